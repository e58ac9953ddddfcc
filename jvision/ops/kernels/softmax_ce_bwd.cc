// Softmax cross-entropy, backward, CPU (see softmax_ce_fwd.cc): the gradient of the logits x
//   dx = resize^T( dloss * cw[l] * (softmax(z) - onehot(l)) ),  softmax(z) = exp(z - lse),
// recomputed pixel by pixel from x and the saved lse (no probabilities are stored).
//   in0 x [N,K,h,w]  in1 label [N,H,W]  in2 cw [K]  in3 lse [N,H,W]  in4 dloss [N,H,W]
//   out0 dx [N,K,h,w];   data["align"], data["ignore"] as in the forward.
// Output rows are grouped by their upper source row y0 (a group adds into source rows y0 and
// y0 + 1 only); groups with even y0 run in parallel, then those with odd y0, so no two threads
// ever add into the same row: deterministic, no atomics, whatever the thread count. A group
// accumulates its two source rows position-major (acc0, acc1 [w][KP]): each pixel's class
// gradient vector is scattered to its two source columns with vector FMAs into hr, each row's
// hr is added with the vertical weights, and the group's rows go back to dx once.
@alias(x, in0)
@alias(label, in1)
@alias(cw, in2)
@alias(lse, in3)
@alias(dloss, in4)
@alias(dx, out0)
{
    using namespace jvdw;
    const int N = x_shape0, K = x_shape1, h = x_shape2, w = x_shape3, H = label_shape1, W = label_shape2;
    const int KP = round_up(K, VL);
    const int ignore = (int)data["ignore"];
    const bool align = data["align"] != 0;
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    // output rows of each y0: [first[y0], first[y0 + 1]) (i0 is non-decreasing in oy)
    std::vector<int> first(h + 1, H);
    for (int oy = H - 1; oy >= 0; oy--) first[ty.i0[oy]] = oy;
    for (int y = h - 1; y >= 0; y--) first[y] = std::min(first[y], first[y + 1]);
    const long total = (long)N * K * h * w;
    #pragma omp parallel
    {
        #pragma omp for schedule(static)
        for (long i = 0; i < total; i++) dx_p[i] = 0.f;
        std::vector<float> vr((size_t)w * KP), hr((size_t)w * KP), acc0((size_t)w * KP), acc1((size_t)w * KP);
        std::vector<float> zb(KP);
        float* z = zb.data();
        for (int parity = 0; parity < 2; parity++) {
            const int ngroups = (h - parity + 1) / 2;
            #pragma omp for schedule(dynamic, 1)
            for (long gi = 0; gi < (long)N * ngroups; gi++) {
                const int n = (int)(gi / ngroups), y0 = 2 * (int)(gi % ngroups) + parity;
                if (first[y0] == first[y0 + 1]) continue;
                const float* xn = x_p + (size_t)n * K * h * w;
                std::fill(acc0.begin(), acc0.end(), 0.f);
                std::fill(acc1.begin(), acc1.end(), 0.f);
                for (int oy = first[y0]; oy < first[y0 + 1]; oy++) {
                    jvsce::blend_rows_transposed(xn, K, h, w, ty.i0[oy], ty.i1[oy], ty.l0[oy], ty.l1[oy], KP,
                                                 vr.data());
                    std::fill(hr.begin(), hr.end(), 0.f);
                    const size_t px = (size_t)n * H * W + (size_t)oy * W;
                    for (int t = 0; t < W; t++) {
                        const int lab = label_p[px + t];
                        if (lab == ignore || lab < 0 || lab >= K) continue;
                        const float c = dloss_p[px + t] * cw_p[lab];
                        jvsce::interpolate(vr.data(), KP, tx.i0[t], tx.i1[t], tx.l0[t], tx.l1[t], z);
                        const vf cv = vsplat(c), lv = vsplat(lse_p[px + t]);
                        for (int k = 0; k < KP; k += VL) vstore(z + k, cv * vexp(vload(z + k) - lv));
                        z[lab] -= c;
                        float* h0 = hr.data() + (size_t)tx.i0[t] * KP;
                        float* h1 = hr.data() + (size_t)tx.i1[t] * KP;
                        const vf a = vsplat(tx.l0[t]), b = vsplat(tx.l1[t]);
                        for (int k = 0; k < KP; k += VL) {
                            const vf g = vload(z + k);
                            vstore(h0 + k, vload(h0 + k) + a * g);
                            vstore(h1 + k, vload(h1 + k) + b * g);
                        }
                    }
                    const vf a = vsplat(ty.l0[oy]), b = vsplat(ty.l1[oy]);
                    for (size_t i = 0; i < (size_t)w * KP; i += VL) {
                        const vf g = vload(hr.data() + i);
                        vstore(acc0.data() + i, vload(acc0.data() + i) + a * g);
                        vstore(acc1.data() + i, vload(acc1.data() + i) + b * g);
                    }
                }
                const int y1 = ty.i1[first[y0]];
                float* dxn = dx_p + (size_t)n * K * h * w;
                for (int k = 0; k < K; k++) {
                    float* r0 = dxn + ((size_t)k * h + y0) * w;
                    float* r1 = dxn + ((size_t)k * h + y1) * w;
                    for (int s = 0; s < w; s++) r0[s] += acc0[(size_t)s * KP + k];
                    for (int s = 0; s < w; s++) r1[s] += acc1[(size_t)s * KP + k];
                }
            }
        }
    }
}
