// BatchNorm, backward, CPU (see batchnorm_fwd.cc). With xh = (x - mean) * rstd, M = N * S:
//   db = sum dy,  dw = sum dy * xh,
//   JV_TRAIN 1 (batch statistics): dx = w * rstd * (dy - db / M - xh * dw / M)
//   JV_TRAIN 0 (running statistics, constants): dx = w * rstd * dy
//   in0 x  in1 w  in2 mean [C]  in3 var [C]  in4 dy      out0 dx  out1 dw  out2 db;  data["eps"]
// One OpenMP task per channel (sums in float per plane, double across planes).
@alias(x, in0)
@alias(w, in1)
@alias(mu, in2)
@alias(var, in3)
@alias(dy, in4)
@alias(dx, out0)
@alias(dw, out1)
@alias(db, out2)
{
    const int N = x_shape0, C = x_shape1;
    const long S = x_shape2;
    const double eps = data["eps"];
    #pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        const float mean = mu_p[c];
        const float rstd = (float)(1.0 / std::sqrt((double)var_p[c] + eps));
        double sg = 0.0, sgx = 0.0;
        for (int n = 0; n < N; n++) {
            const float* xp = x_p + ((long)n * C + c) * S;
            const float* gp = dy_p + ((long)n * C + c) * S;
            float a = 0.f, bsum = 0.f;
            for (long i = 0; i < S; i++) {
                a += gp[i];
                bsum += gp[i] * (xp[i] - mean);
            }
            sg += a;
            sgx += bsum;
        }
        sgx *= rstd;
        db_p[c] = (float)sg;
        dw_p[c] = (float)sgx;
        const float k = w_p[c] * rstd;
#if JV_TRAIN
        const double M = (double)N * S;
        const float mg = (float)(sg / M), mgx = (float)(sgx / M);
        for (int n = 0; n < N; n++) {
            const float* xp = x_p + ((long)n * C + c) * S;
            const float* gp = dy_p + ((long)n * C + c) * S;
            float* dp = dx_p + ((long)n * C + c) * S;
            for (long i = 0; i < S; i++) dp[i] = k * (gp[i] - mg - (xp[i] - mean) * rstd * mgx);
        }
#else
        for (int n = 0; n < N; n++) {
            const float* gp = dy_p + ((long)n * C + c) * S;
            float* dp = dx_p + ((long)n * C + c) * S;
            for (long i = 0; i < S; i++) dp[i] = k * gp[i];
        }
#endif
    }
}
