// Channels-first LayerNorm, backward, CPU (see layernorm2d_fwd.cc). With xh = (x - mu) * rstd and
// g = dy * w[c]:  dx = rstd * (g - mean_c(g) - xh * mean_c(g * xh)),
//                 dw[c] = sum_{n,p} dy * xh,   db[c] = sum_{n,p} dy.
// mu and rstd are recomputed per tile; dw/db go through per-tile partial sums (no atomics).
//   in0 x  in1 w  in2 b  in3 dy      out0 dx  out1 dw  out2 db;  data["eps"]
@alias(x, in0)
@alias(w, in1)
@alias(dy, in3)
@alias(dx, out0)
@alias(dw, out1)
@alias(db, out2)
{
    constexpr int TILE = 512;
    const int N = x_shape0, C = x_shape1;
    const long HW = (long)x_shape2 * x_shape3;
    const long ntile = (HW + TILE - 1) / TILE, NT = N * ntile;
    const float eps = (float)data["eps"], invc = 1.0f / C;
    std::vector<float> part((size_t)NT * C * 2);
    #pragma omp parallel
    {
        #pragma omp for schedule(static)
        for (long t = 0; t < NT; t++) {
            const long n = t / ntile, p0 = (t % ntile) * TILE;
            const int len = (int)std::min<long>(TILE, HW - p0);
            const float* xb = x_p + n * C * HW + p0;
            const float* gb = dy_p + n * C * HW + p0;
            float* dxb = dx_p + n * C * HW + p0;
            float* pt = part.data() + (size_t)t * C * 2;
            alignas(64) float mu[TILE], rs[TILE], s1[TILE], s2[TILE];
            for (int i = 0; i < len; i++) mu[i] = 0.f, rs[i] = 0.f, s1[i] = 0.f, s2[i] = 0.f;
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
                const float* gc = gb + c * HW;
                const float wc = w_p[c];
                float sw = 0.f, sb = 0.f;
                for (int i = 0; i < len; i++) {
                    const float xh = (xc[i] - mu[i]) * rs[i];
                    const float g = gc[i] * wc;
                    s1[i] += g;
                    s2[i] += g * xh;
                    sw += gc[i] * xh;
                    sb += gc[i];
                }
                pt[2 * c] = sw;
                pt[2 * c + 1] = sb;
            }
            for (int i = 0; i < len; i++) s1[i] *= invc, s2[i] *= invc;
            for (int c = 0; c < C; c++) {
                const float* xc = xb + c * HW;
                const float* gc = gb + c * HW;
                float* dc = dxb + c * HW;
                const float wc = w_p[c];
                for (int i = 0; i < len; i++) {
                    const float xh = (xc[i] - mu[i]) * rs[i];
                    dc[i] = rs[i] * (gc[i] * wc - s1[i] - xh * s2[i]);
                }
            }
        }
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            float sw = 0.f, sb = 0.f;
            for (long t = 0; t < NT; t++) {
                sw += part[((size_t)t * C + c) * 2];
                sb += part[((size_t)t * C + c) * 2 + 1];
            }
            dw_p[c] = sw;
            db_p[c] = sb;
        }
    }
}
