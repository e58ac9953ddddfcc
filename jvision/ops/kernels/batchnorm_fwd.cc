// BatchNorm over (N, spatial) per channel, forward, CPU.
//   in0 x [N,C,S] (spatial dims flattened)  in1 w [C]  in2 b [C]  (JV_TRAIN 0: in3 mean [C], in4 var [C], the running stats)
//   out0 y like x;  JV_TRAIN 1: out1 mean [C], out2 var [C] (biased) of this batch
//   y = (x - mean) / sqrt(var + eps) * w + b;   data["eps"]
// One OpenMP task per channel: its N planes are read twice for the statistics (mean, then the
// centred variance: no cancellation) and once for the output, contiguous along the plane.
@alias(x, in0)
@alias(w, in1)
@alias(b, in2)
@alias(y, out0)
{
    const int N = x_shape0, C = x_shape1;
    const long S = x_shape2;
    const double eps = data["eps"];
    #pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
#if JV_TRAIN
        double sum = 0.0;
        for (int n = 0; n < N; n++) {
            const float* xp = x_p + ((long)n * C + c) * S;
            float s = 0.f;
            for (long i = 0; i < S; i++) s += xp[i];
            sum += s;
        }
        const float mean = (float)(sum / ((double)N * S));
        double sq = 0.0;
        for (int n = 0; n < N; n++) {
            const float* xp = x_p + ((long)n * C + c) * S;
            float s = 0.f;
            for (long i = 0; i < S; i++) {
                const float d = xp[i] - mean;
                s += d * d;
            }
            sq += s;
        }
        const float var = (float)(sq / ((double)N * S));
        out1_p[c] = mean;
        out2_p[c] = var;
#else
        const float mean = in3_p[c], var = in4_p[c];
#endif
        const float scale = w_p[c] / (float)std::sqrt((double)var + eps);
        const float shift = b_p[c] - mean * scale;
        for (int n = 0; n < N; n++) {
            const float* xp = x_p + ((long)n * C + c) * S;
            float* yp = y_p + ((long)n * C + c) * S;
            for (long i = 0; i < S; i++) yp[i] = xp[i] * scale + shift;
        }
    }
}
