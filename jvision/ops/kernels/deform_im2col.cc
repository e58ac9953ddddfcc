// Modulated deformable im2col, CPU (body of a jt.code op; building blocks in deform_cpu.h).
//   in0  x [N, C, H, W]    in1  offset [N, DG*2*K, OH, OW] (per group: taps k, each (dy, dx))
//   in2  mask [N, DG*K, OH, OW]
//   out0 col [N, C*K, OH*OW]: col[n, c*K + k, l] = mask * bilinear(x[n, c], tap position)
// Compile-time: JV_KH JV_KW JV_SH JV_SW JV_PH JV_PW JV_DH JV_DW. Shapes at run time.
// One OpenMP task per (n, deform group, tap): its sample positions are computed once and reused
// for every channel of the group; each task writes its own rows of col (no races).
@alias(x, in0)
@alias(off, in1)
@alias(msk, in2)
@alias(col, out0)
{
    using namespace jvdcn;
    typedef x_type T;
    constexpr int KH = JV_KH, KW = JV_KW, K = KH * KW;
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const int OH = off_shape2, OW = off_shape3;
    const long L = (long)OH * OW;
    const int DG = msk_shape1 / K, CG = C / DG;
    const long tasks = (long)N * DG * K;
    #pragma omp parallel
    {
        std::vector<Tap<T>> taps(L);
        #pragma omp for schedule(static)
        for (long t = 0; t < tasks; t++) {
            const int k = (int)(t % K);
            const long ng = t / K;                  // n * DG + g
            const int n = (int)(ng / DG), g = (int)(ng % DG);
            const T* oy = off_p + (ng * 2 * K + 2 * k) * L;
            const T* m = msk_p + (ng * K + k) * L;
            make_taps<T, KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(oy, oy + L, k, H, W, OH, OW, taps.data());
            for (int cg = 0; cg < CG; cg++) {
                const int c = g * CG + cg;
                const T* xp = x_p + ((long)n * C + c) * H * W;
                T* cp = col_p + (((long)n * C + c) * K + k) * L;
                for (long l = 0; l < L; l++) cp[l] = m[l] * sample<T, false>(xp, H, W, taps[l]);
            }
        }
    }
}
