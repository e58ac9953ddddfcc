// Channels-first LayerNorm, forward, CPU: y[n,c,p] = (x[n,c,p] - mu[n,p]) * rstd[n,p] * w[c] + b[c]
// with mu, var over c (biased), rstd = 1 / sqrt(var + eps).
//   in0 x [N,C,H,W]  in1 w [C]  in2 b [C]   out0 y [N,C,H,W];  data["eps"]
// One OpenMP task per (n, tile of TILE pixels): the tile's C rows stay in cache for the three
// passes (mean, variance, output); the inner loops run along contiguous pixels (vectorised).
@alias(x, in0)
@alias(w, in1)
@alias(b, in2)
@alias(y, out0)
{
    constexpr int TILE = 512;
    const int N = x_shape0, C = x_shape1;
    const long HW = (long)x_shape2 * x_shape3;
    const long ntile = (HW + TILE - 1) / TILE;
    const float eps = (float)data["eps"], invc = 1.0f / C;
    #pragma omp parallel for schedule(static)
    for (long t = 0; t < N * ntile; t++) {
        const long n = t / ntile, p0 = (t % ntile) * TILE;
        const int len = (int)std::min<long>(TILE, HW - p0);
        const float* xb = x_p + n * C * HW + p0;
        float* yb = y_p + n * C * HW + p0;
        alignas(64) float mu[TILE], rs[TILE];
        for (int i = 0; i < len; i++) mu[i] = 0.f, rs[i] = 0.f;
        for (int c = 0; c < C; c++) {
            const float* xc = xb + c * HW;
            for (int i = 0; i < len; i++) mu[i] += xc[i];
        }
        for (int i = 0; i < len; i++) mu[i] *= invc;
        for (int c = 0; c < C; c++) {
            const float* xc = xb + c * HW;
            for (int i = 0; i < len; i++) {
                const float d = xc[i] - mu[i];
                rs[i] += d * d;
            }
        }
        for (int i = 0; i < len; i++) rs[i] = 1.0f / std::sqrt(rs[i] * invc + eps);
        for (int c = 0; c < C; c++) {
            const float* xc = xb + c * HW;
            float* yc = yb + c * HW;
            const float wc = w_p[c], bc = b_p[c];
            for (int i = 0; i < len; i++) yc[i] = (xc[i] - mu[i]) * rs[i] * wc + bc;
        }
    }
}
