// Row normalisation (GroupNorm, channels-last LayerNorm), backward, CPU (see rownorm_fwd.cc).
// With xh = (x - mean_r) * rstd_r and g = dy * w[c]:
//   dx = rstd_r * (g - mean_row(g) - xh * mean_row(g * xh)),
//   dw[c] = sum over rows and positions of dy * xh,   db[c] = sum of dy.
//   in0 x [R, L]  in1 w [C]  in2 mean [R]  in3 rstd [R]  in4 dy [R, L]
//   out0 dx [R, L]  out1 dw [C]  out2 db [C];  data["S"], data["RB"]
// Rows go in blocks of RB (fixed by the shapes, not by the thread count); each block writes the
// partial sums of its channels into its own slice of a scratch buffer, which is then reduced over
// blocks in order per channel: deterministic, no atomics.
@alias(x, in0)
@alias(w, in1)
@alias(mu, in2)
@alias(rs, in3)
@alias(dy, in4)
@alias(dx, out0)
@alias(dw, out1)
@alias(db, out2)
{
    const long R = x_shape0, L = x_shape1, C = w_shape0;
    const long S = (long)data["S"], Cg = L / S, G = C / Cg, RB = (long)data["RB"];
    const long NB = (R + RB - 1) / RB;
    std::vector<float> part((size_t)NB * 2 * C);
    float* const part_p = part.data();
    #pragma omp parallel
    {
        #pragma omp for schedule(dynamic, 1)
        for (long blk = 0; blk < NB; blk++) {
            float* pw = part_p + blk * 2 * C;
            float* pb = pw + C;
            for (long c = 0; c < 2 * C; c++) pw[c] = 0.f;
            for (long r = blk * RB; r < std::min(R, (blk + 1) * RB); r++) {
                const float* xr = x_p + r * L;
                const float* gr = dy_p + r * L;
                float* dr = dx_p + r * L;
                const float mean = mu_p[r], rstd = rs_p[r];
                const long c0 = (r % G) * Cg;
                double s1 = 0.0, s2 = 0.0;  // sum g, sum g * xh over the row (g = dy * w)
                if (S == 1) {
                    const float* wr = w_p + c0;
                    float* pwr = pw + c0;
                    float* pbr = pb + c0;
                    float a = 0.f, bsum = 0.f;
                    for (long j = 0; j < L; j++) {
                        const float xh = (xr[j] - mean) * rstd, g = gr[j];
                        pwr[j] += g * xh;
                        pbr[j] += g;
                        a += g * wr[j];
                        bsum += g * wr[j] * xh;
                    }
                    s1 = a, s2 = bsum;
                } else {
                    for (long k = 0; k < Cg; k++) {
                        const float* xs = xr + k * S;
                        const float* gs = gr + k * S;
                        float a = 0.f, bsum = 0.f;
                        for (long i = 0; i < S; i++) {
                            a += gs[i];
                            bsum += gs[i] * (xs[i] - mean);
                        }
                        bsum *= rstd;
                        pw[c0 + k] += bsum;
                        pb[c0 + k] += a;
                        s1 += (double)a * w_p[c0 + k];
                        s2 += (double)bsum * w_p[c0 + k];
                    }
                }
                const float m1 = (float)(s1 / L), m2 = (float)(s2 / L);
                if (S == 1) {
                    const float* wr = w_p + c0;
                    for (long j = 0; j < L; j++) {
                        const float xh = (xr[j] - mean) * rstd;
                        dr[j] = wr[j] * rstd * gr[j] - rstd * (m1 + xh * m2);
                    }
                } else for (long k = 0; k < Cg; k++) {
                    const float a = w_p[c0 + k] * rstd;
                    const float* xs = xr + k * S;
                    const float* gs = gr + k * S;
                    float* ds = dr + k * S;
                    for (long i = 0; i < S; i++) {
                        const float xh = (xs[i] - mean) * rstd;
                        ds[i] = a * gs[i] - rstd * (m1 + xh * m2);
                    }
                }
            }
        }
        #pragma omp for schedule(static)
        for (long c = 0; c < C; c++) {
            double sw = 0.0, sb = 0.0;
            for (long blk = 0; blk < NB; blk++) {
                sw += part_p[blk * 2 * C + c];
                sb += part_p[blk * 2 * C + C + c];
            }
            dw_p[c] = (float)sw;
            db_p[c] = (float)sb;
        }
    }
}
