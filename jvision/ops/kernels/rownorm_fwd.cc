// Normalisation over contiguous rows, forward, CPU: GroupNorm (a row = one group of one sample,
// Cg channels x S positions) and channels-last LayerNorm (a row = the C values of one token,
// S = 1). Row r, element j has the affine channel c = (r % G) * Cg + j / S.
//   in0 x [R, L] with L = Cg * S   in1 w [G*Cg]  in2 b [G*Cg]
//   out0 y [R, L]   out1 mean [R]   out2 rstd [R]      data["eps"], data["S"]
//   y = (x - mean_r) * rstd_r * w[c] + b[c],  rstd = 1 / sqrt(var + eps), var biased (centred pass)
// One OpenMP task per row (dynamic: rows may be few and long, or many and short).
@alias(x, in0)
@alias(w, in1)
@alias(b, in2)
@alias(y, out0)
@alias(mu, out1)
@alias(rs, out2)
{
    const long R = x_shape0, L = x_shape1;
    const long S = (long)data["S"], Cg = L / S, G = w_shape0 / Cg;
    const double eps = data["eps"];
    #pragma omp parallel for schedule(dynamic, 4)
    for (long r = 0; r < R; r++) {
        const float* xr = x_p + r * L;
        float* yr = y_p + r * L;
        double sum = 0.0;
        for (long j0 = 0; j0 < L; j0 += 4096) {
            float s = 0.f;
            const long j1 = std::min(L, j0 + 4096);
            for (long j = j0; j < j1; j++) s += xr[j];
            sum += s;
        }
        const float mean = (float)(sum / L);
        double sq = 0.0;
        for (long j0 = 0; j0 < L; j0 += 4096) {
            float s = 0.f;
            const long j1 = std::min(L, j0 + 4096);
            for (long j = j0; j < j1; j++) {
                const float d = xr[j] - mean;
                s += d * d;
            }
            sq += s;
        }
        const float rstd = (float)(1.0 / std::sqrt(sq / L + eps));
        mu_p[r] = mean;
        rs_p[r] = rstd;
        const long c0 = (r % G) * Cg;
        if (S == 1) {
            const float* wr = w_p + c0;
            const float* br = b_p + c0;
            for (long j = 0; j < L; j++) yr[j] = (xr[j] - mean) * rstd * wr[j] + br[j];
        } else {
            for (long k = 0; k < Cg; k++) {
                const float a = w_p[c0 + k] * rstd, d = b_p[c0 + k] - mean * a;
                const float* xs = xr + k * S;
                float* ys = yr + k * S;
                for (long i = 0; i < S; i++) ys[i] = xs[i] * a + d;
            }
        }
    }
}
