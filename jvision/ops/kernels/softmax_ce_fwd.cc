// Softmax cross-entropy over classes, forward, CPU, optionally of bilinearly resized logits.
//   in0 x [N,K,h,w] logits   in1 label [N,H,W] int32   in2 cw [K] class weights
//   out0 loss [N,H,W]: cw[l] * (lse - z_l), 0 where l == ignore, NaN where l is out of range
//   out1 lse  [N,H,W]: log-sum-exp over K (saved for the backward)
//   out2 pred [N,H,W] int32: argmax over K (first maximum)
//   JV_LOSS: 0 computes pred only (loss and lse are left 0).
//   JV_RESIZE: 1 when (H, W) != (h, w): z = bilinear resize of x to (H, W) (resize_bilinear.h),
//   computed on the fly; the resized logits are never stored.   data["align"], data["ignore"]
// One OpenMP task per (n, output row); a row is processed in tiles of TX pixels whose K logits
// (K x TX floats) stay in cache for the max, exp-sum and pick passes, vectorised along pixels.
@alias(x, in0)
@alias(label, in1)
@alias(cw, in2)
@alias(loss, out0)
@alias(lse, out1)
@alias(pred, out2)
{
    using namespace jvdw;
    constexpr int TX = 64;
    const int N = x_shape0, K = x_shape1, h = x_shape2, w = x_shape3, H = label_shape1, W = label_shape2;
    const int ignore = (int)data["ignore"];
    const bool align = data["align"] != 0;
#if JV_RESIZE
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
#endif
    #pragma omp parallel
    {
        std::vector<float> zb((size_t)K * TX + VL);
#if JV_RESIZE
        std::vector<float> vr((size_t)K * w);
#endif
        alignas(64) float m[TX], s[TX];
        alignas(64) int am[TX];
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)N * H; r++) {
            const int n = (int)(r / H), oy = (int)(r % H);
            const float* xn = x_p + (size_t)n * K * h * w;
#if JV_RESIZE
            for (int k = 0; k < K; k++) {
                const float* plane = xn + (size_t)k * h * w;
                jvrs::blend_rows(plane + (size_t)ty.i0[oy] * w, plane + (size_t)ty.i1[oy] * w,
                                 ty.l0[oy], ty.l1[oy], w, vr.data() + (size_t)k * w);
            }
#endif
            const size_t px = (size_t)n * H * W + (size_t)oy * W;
            for (int t0 = 0; t0 < W; t0 += TX) {
                const int nt = std::min(TX, W - t0);
                float* z = zb.data();
                for (int k = 0; k < K; k++) {
                    float* zk = z + (size_t)k * TX;
#if JV_RESIZE
                    jvrs::gather_row(vr.data() + (size_t)k * w, tx, t0, nt, zk);
#else
                    std::copy(xn + ((size_t)k * h + oy) * w + t0, xn + ((size_t)k * h + oy) * w + t0 + nt, zk);
#endif
                    for (int t = nt; t < TX; t++) zk[t] = 0.f;
                }
                for (int t = 0; t < TX; t++) m[t] = z[t], am[t] = 0;
                for (int k = 1; k < K; k++) {
                    const float* zk = z + (size_t)k * TX;
                    for (int t = 0; t < TX; t++) {
                        const bool gt = zk[t] > m[t];
                        m[t] = gt ? zk[t] : m[t];
                        am[t] = gt ? k : am[t];
                    }
                }
#if JV_LOSS
                for (int t = 0; t < TX; t += VL) vstore(s + t, vsplat(0.f));
                for (int k = 0; k < K; k++) {
                    const float* zk = z + (size_t)k * TX;
                    for (int t = 0; t < TX; t += VL) vstore(s + t, vload(s + t) + vexp(vload(zk + t) - vload(m + t)));
                }
                for (int t = 0; t < nt; t++) {
                    const float l = m[t] + std::log(s[t]);
                    const int lab = label_p[px + t0 + t];
                    float v = 0.f;
                    if (lab != ignore) {
                        if (lab < 0 || lab >= K) v = NAN;
                        else v = cw_p[lab] * (l - z[(size_t)lab * TX + t]);
                    }
                    loss_p[px + t0 + t] = v;
                    lse_p[px + t0 + t] = l;
                    pred_p[px + t0 + t] = am[t];
                }
#else
                for (int t = 0; t < nt; t++) {
                    loss_p[px + t0 + t] = 0.f;
                    lse_p[px + t0 + t] = 0.f;
                    pred_p[px + t0 + t] = am[t];
                }
#endif
            }
        }
    }
}
