// Residual with a per-channel layer scale, forward, CPU: y = x + scale[c] * b (JV_SCALE), or
// y = x + b, or y = x + GELU(b) (JV_GELU, without scale), on NCHW maps viewed as [N, C, S].
//   in0 x [N, C, S]   in1 b [N, C, S]   in2 scale [C] (JV_SCALE)   out0 y [N, C, S]
// One OpenMP task per (n, c) plane, vectorised.
@alias(x, in0)
@alias(b, in1)
@alias(y, out0)
{
    using namespace jvdw;
    const long N = x_shape0, C = x_shape1, S = x_shape2;
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < N * C; p++) {
#if JV_SCALE
        const float a = in2_p[p % C];
#else
        const float a = 1.f;
#endif
        const vf va = vsplat(a);
        const float* xp = x_p + p * S;
        const float* bp = b_p + p * S;
        float* yp = y_p + p * S;
        long s = 0;
#if JV_GELU
        for (; s + VL <= S; s += VL) vstore(yp + s, vload(xp + s) + vgelu(vload(bp + s)));
        if (s < S) {
            alignas(32) float t[VL] = {0};
            for (long j = s; j < S; j++) t[j - s] = bp[j];
            const vf v = vgelu(vload(t));
            for (long j = s; j < S; j++) yp[j] = xp[j] + v[j - s];
        }
#else
        for (; s + VL <= S; s += VL) vstore(yp + s, vload(xp + s) + va * vload(bp + s));
        for (; s < S; s++) yp[s] = xp[s] + a * bp[s];
#endif
    }
}
