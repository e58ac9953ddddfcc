// Softmax cross-entropy over classes of bilinearly resized logits, forward, CPU.
//   in0 x [N,K,h,w] logits   in1 label [N,H,W] int32   in2 cw [K] class weights
//   out0 loss [N,H,W]: cw[l] * (lse - z_l), 0 where l == ignore, NaN where l is out of range
//   out1 lse  [N,H,W]: log-sum-exp over K (saved for the backward)
//   out2 pred [N,H,W] int32: argmax over K (first maximum)
//   z = bilinear resize of x to (H, W) (taps: resize_bilinear.h; with (H, W) == (h, w) the taps
//   are the identity), computed on the fly: the resized logits are never stored.
//   JV_LOSS 0: pred only (loss and lse are 0).   data["align"], data["ignore"]
// One OpenMP task per (n, output row). The row's two source rows are blended once into a
// position-major buffer vr[w][KP] (KP = K rounded up to the vector width, padded with -1e30),
// so that every output pixel is two vector FMAs per class vector, and the max / exp-sum / pick
// passes run along the classes in registers.
@alias(x, in0)
@alias(label, in1)
@alias(cw, in2)
@alias(loss, out0)
@alias(lse, out1)
@alias(pred, out2)
{
    using namespace jvdw;
    const int N = x_shape0, K = x_shape1, h = x_shape2, w = x_shape3, H = label_shape1, W = label_shape2;
    const int KP = round_up(K, VL);
    const int ignore = (int)data["ignore"];
    const bool align = data["align"] != 0;
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    #pragma omp parallel
    {
        std::vector<float> vr((size_t)w * KP);
        std::vector<float> zb(KP);
        float* z = zb.data();
        #pragma omp for schedule(static)
        for (long r = 0; r < (long)N * H; r++) {
            const int n = (int)(r / H), oy = (int)(r % H);
            jvsce::blend_rows_transposed(x_p + (size_t)n * K * h * w, K, h, w, ty.i0[oy], ty.i1[oy],
                                         ty.l0[oy], ty.l1[oy], KP, vr.data());
            const size_t px = (size_t)n * H * W + (size_t)oy * W;
            for (int t = 0; t < W; t++) {
                jvsce::interpolate(vr.data(), KP, tx.i0[t], tx.i1[t], tx.l0[t], tx.l1[t], z);
                vf mv = vload(z);
                for (int k = VL; k < KP; k += VL) {
                    const vf v = vload(z + k);
                    mv = v > mv ? v : mv;
                }
                float m = mv[0];
                for (int l = 1; l < VL; l++) m = mv[l] > m ? mv[l] : m;
                int am = 0;
                while (am < K - 1 && z[am] != m) am++;  // bounded: NaN logits must not run off
                pred_p[px + t] = am;
#if JV_LOSS
                const vf ms = vsplat(m);
                vf sv = vsplat(0.f);
                for (int k = 0; k < KP; k += VL) sv += vexp(vload(z + k) - ms);
                const float l = m + std::log(hsum(sv));
                const int lab = label_p[px + t];
                float v = 0.f;
                if (lab != ignore) v = (lab < 0 || lab >= K) ? NAN : cw_p[lab] * (l - z[lab]);
                loss_p[px + t] = v;
                lse_p[px + t] = l;
#else
                loss_p[px + t] = 0.f;
                lse_p[px + t] = 0.f;
#endif
            }
        }
    }
}
