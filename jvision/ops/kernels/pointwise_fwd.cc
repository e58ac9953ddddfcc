// 1x1 convolution (stride 1, no padding, one group), forward, CPU (gemm_cpu.h):
// y[n] (D x S) = epilogue(W (D x C) . x[n] (C x S)) with S = H * W positions of the NCHW map as it
// lies, where the epilogue is, per element, h = product + b; y = act(h); y = res + scale * y.
//   in0 x [N, C, S]   in1 w [D, C]   then, in this order where enabled:
//   b [D] (JV_BIAS)   res [N, D, S] (JV_RESIDUAL)   scale [D] (JV_SCALE, with JV_RESIDUAL)
//   out0 y [N, D, S]  out1 h [N, D, S]: the pre-activation, for the backward (JV_GELU && JV_KEEP_PRE)
// JV_GELU: act = GELU (exact erf form).
// The N*S output columns are cut into panels, one OpenMP task each: a large map into equal column
// ranges of each sample, small maps into groups of whole samples (whose columns are gathered
// first, so that the product is wide enough to run well). Each panel's product goes to a
// per-thread buffer and the epilogue writes y from there while it is in cache: every output
// element is written once, instead of a bias fill, the product and an activation pass each
// streaming the whole map. With fewer panels than threads (a single small map) the panels run one
// after the other with oneDNN's own threading.
#define JV_CAT_(a, b, c) a##b##c
#define JV_CAT(a, b, c) JV_CAT_(a, b, c)
@alias(x, in0)
@alias(w, in1)
@alias(y, out0)
{
    using namespace jvgemm;
    const long N = x_shape0, C = x_shape1, S = x_shape2, D = w_shape0;
#if JV_BIAS
    const float* bias = in2_p;
#endif
#if JV_RESIDUAL
    const float* res = JV_CAT(in, JV_RES_IN, _p);
#if JV_SCALE
    const float* scale = JV_CAT(in, JV_SCALE_IN, _p);
#endif
#endif
#if JV_GELU && JV_KEEP_PRE
    float* pre = out1_p;
#endif
    const int T = omp_get_max_threads();
    // Panels: a large map is cut into `chunks` equal column ranges per sample, a small one is
    // grouped `group` samples per panel (gathered), both about JV_PANEL columns at most and at
    // least one panel per thread where the batch allows.
#ifdef JV_PANEL
    const long PMAX = JV_PANEL;
#else
    const long PMAX = 1024;
#endif
    long chunks = 1, group = 1;
    if (2 * S >= PMAX) chunks = (S + PMAX - 1) / PMAX;
    else group = std::max(1L, std::min(PMAX / S, (N + T - 1) / T));
    const long panels = chunks > 1 ? N * chunks : (N + group - 1) / group;
    const long width = chunks > 1 ? (S + chunks - 1) / chunks : group * S;   // widest panel
    auto bounds = [&](long p, long& c0, long& c1) {
        if (chunks > 1) {
            const long n = p / chunks, k = p % chunks;
            c0 = n * S + S * k / chunks;
            c1 = n * S + S * (k + 1) / chunks;
        } else {
            c0 = p * group * S;
            c1 = std::min(N, (p + 1) * group) * S;
        }
    };
    const bool tasks = panels >= T && T > 1;

    // One panel: global columns [c0, c1).
    auto run = [&](long c0, long c1, float* acc, float* gather, bool split) {
        const long wcols = c1 - c0;
        const long n0 = c0 / S, s0 = c0 % S;
        const float* B;
        long ldb;
        if (s0 + wcols <= S) {               // inside one sample: read x in place
            B = x_p + n0 * C * S + s0;
            ldb = S;
        } else {                             // spans samples: gather the columns
            for (long c = 0; c < C; c++) {
                float* dst = gather + c * wcols;
                long col = c0;
                while (col < c1) {
                    const long n = col / S, s = col % S, len = std::min(S - s, c1 - col);
                    std::memcpy(dst + (col - c0), x_p + (n * C + c) * S + s, len * sizeof(float));
                    col += len;
                }
            }
            B = gather;
            ldb = wcols;
        }
        dnnl_sgemm('N', 'N', D, wcols, C, 1.f, w_p, C, B, ldb, 0.f, acc, wcols);
        #pragma omp parallel for schedule(static) if (split)
        for (long d = 0; d < D; d++) {
            const float* a = acc + d * wcols;
#if JV_BIAS
            const vf bv = vsplat(bias[d]);
#else
            const vf bv = vsplat(0.f);
#endif
#if JV_RESIDUAL && JV_SCALE
            const vf sv = vsplat(scale[d]);
#endif
            long col = c0;
            while (col < c1) {
                const long n = col / S, s = col % S, len = std::min(S - s, c1 - col);
                const long o = (n * D + d) * S + s;
                const float* src = a + (col - c0);
                float* dst = y_p + o;
                for (long i = 0; i < len; i += VL) {
                    const int m = (int)std::min((long)VL, len - i);
                    const vf h = vload_n(src + i, m) + bv;
                    vf v = h;
#if JV_GELU
#if JV_KEEP_PRE
                    if (m == VL) vstore(pre + o + i, h); else vstore_n(pre + o + i, h, m);
#endif
                    v = vgelu(v);
#endif
#if JV_RESIDUAL
                    const vf r = vload_n(res + o + i, m);
#if JV_SCALE
                    v = r + sv * v;
#else
                    v = r + v;
#endif
#endif
                    if (m == VL) vstore(dst + i, v); else vstore_n(dst + i, v, m);
                }
                col += len;
            }
        }
    };

    const long gather_size = group > 1 ? C * width : 1;
    if (tasks) {
        #pragma omp parallel
        {
            std::unique_ptr<float[]> acc(new float[D * width]);
            std::unique_ptr<float[]> gather(new float[gather_size]);
            #pragma omp for schedule(static)
            for (long p = 0; p < panels; p++) {
                long c0, c1;
                bounds(p, c0, c1);
                run(c0, c1, acc.get(), gather.get(), false);
            }
        }
    } else {
        std::unique_ptr<float[]> acc(new float[D * width]);
        std::unique_ptr<float[]> gather(new float[gather_size]);
        for (long p = 0; p < panels; p++) {
            long c0, c1;
            bounds(p, c0, c1);
            run(c0, c1, acc.get(), gather.get(), true);
        }
    }
}
