// Softmax cross-entropy, backward, CPU (see softmax_ce_fwd.cc): the gradient of the logits x
//   dx = resize^T( dloss * cw[l] * (softmax(z) - onehot(l)) ),  softmax(z) = exp(z - lse),
// recomputed tile by tile from x and the saved lse (no probabilities are stored).
//   in0 x [N,K,h,w]  in1 label [N,H,W]  in2 cw [K]  in3 lse [N,H,W]  in4 dloss [N,H,W]
//   out0 dx [N,K,h,w];   JV_RESIZE, data["align"], data["ignore"] as in the forward.
// Without resize: one OpenMP task per (n, row), each writing its own row of dx.
// With resize: output rows are grouped by their upper source row y0 (a group writes source rows
// y0 and y0 + 1 only); groups with even y0 run in parallel, then those with odd y0, so no two
// threads ever add into the same row (deterministic, no atomics). Within a group each output row
// is scattered along x into a K x w row buffer, then added to its two source rows.
@alias(x, in0)
@alias(label, in1)
@alias(cw, in2)
@alias(lse, in3)
@alias(dloss, in4)
@alias(dx, out0)
{
    using namespace jvdw;
    constexpr int TX = 64;
    const int N = x_shape0, K = x_shape1, h = x_shape2, w = x_shape3, H = label_shape1, W = label_shape2;
    const int ignore = (int)data["ignore"];
    const bool align = data["align"] != 0;
#if JV_RESIZE
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    // output rows of each y0: [first[y0], first[y0 + 1]) (i0 is non-decreasing in oy)
    std::vector<int> first(h + 1, H);
    for (int oy = H - 1; oy >= 0; oy--) first[ty.i0[oy]] = oy;
    for (int y = h - 1; y >= 0; y--) first[y] = std::min(first[y], first[y + 1]);
    const long total = (long)N * K * h * w;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < total; i++) dx_p[i] = 0.f;
#endif
    #pragma omp parallel
    {
        std::vector<float> zb((size_t)K * TX + VL);
        alignas(64) float c[TX], l[TX];
        alignas(64) int lab[TX];
#if JV_RESIZE
        std::vector<float> vr((size_t)K * w), hr((size_t)K * w);
        for (int parity = 0; parity < 2; parity++) {
            const int ngroups = (h - parity + 1) / 2;
            #pragma omp for schedule(dynamic, 1)
            for (long gi = 0; gi < (long)N * ngroups; gi++) {
                const int n = (int)(gi / ngroups), y0 = 2 * (int)(gi % ngroups) + parity;
                for (int oy = first[y0]; oy < first[y0 + 1]; oy++) {
#else
        {
            #pragma omp for schedule(static)
            for (long r = 0; r < (long)N * H; r++) {
                const int n = (int)(r / H);
                {
                    const int oy = (int)(r % H);
#endif
                    const float* xn = x_p + (size_t)n * K * h * w;
                    float* dxn = dx_p + (size_t)n * K * h * w;
                    const size_t px = (size_t)n * H * W + (size_t)oy * W;
#if JV_RESIZE
                    for (int k = 0; k < K; k++) {
                        const float* plane = xn + (size_t)k * h * w;
                        jvrs::blend_rows(plane + (size_t)ty.i0[oy] * w, plane + (size_t)ty.i1[oy] * w,
                                         ty.l0[oy], ty.l1[oy], w, vr.data() + (size_t)k * w);
                    }
                    std::fill(hr.begin(), hr.end(), 0.f);
#endif
                    for (int t0 = 0; t0 < W; t0 += TX) {
                        const int nt = std::min(TX, W - t0);
                        float* z = zb.data();
                        for (int t = 0; t < TX; t++) {
                            const int lb = t < nt ? label_p[px + t0 + t] : ignore;
                            const bool ok = lb != ignore && lb >= 0 && lb < K;
                            lab[t] = ok ? lb : -1;
                            c[t] = ok ? dloss_p[px + t0 + t] * cw_p[lb] : 0.f;
                            l[t] = t < nt ? lse_p[px + t0 + t] : 0.f;
                        }
                        for (int k = 0; k < K; k++) {
                            float* zk = z + (size_t)k * TX;
#if JV_RESIZE
                            jvrs::gather_row(vr.data() + (size_t)k * w, tx, t0, nt, zk);
#else
                            std::copy(xn + ((size_t)k * h + oy) * w + t0, xn + ((size_t)k * h + oy) * w + t0 + nt, zk);
#endif
                            for (int t = nt; t < TX; t++) zk[t] = 0.f;
                            for (int t = 0; t < TX; t += VL)
                                vstore(zk + t, vload(c + t) * vexp(vload(zk + t) - vload(l + t)));
                        }
                        for (int t = 0; t < nt; t++)
                            if (lab[t] >= 0) z[(size_t)lab[t] * TX + t] -= c[t];
                        for (int k = 0; k < K; k++) {
#if JV_RESIZE
                            jvrs::scatter_row(z + (size_t)k * TX, tx, t0, nt, hr.data() + (size_t)k * w);
#else
                            std::copy(z + (size_t)k * TX, z + (size_t)k * TX + nt, dxn + ((size_t)k * h + oy) * w + t0);
#endif
                        }
                    }
#if JV_RESIZE
                    const float l0 = ty.l0[oy], l1 = ty.l1[oy];
                    for (int k = 0; k < K; k++) {
                        const float* g = hr.data() + (size_t)k * w;
                        float* r0 = dxn + ((size_t)k * h + ty.i0[oy]) * w;
                        float* r1 = dxn + ((size_t)k * h + ty.i1[oy]) * w;
                        for (int i = 0; i < w; i++) r0[i] += l0 * g[i];
                        for (int i = 0; i < w; i++) r1[i] += l1 * g[i];
                    }
#endif
                }
            }
        }
    }
}
