// SGD step (momentum, dampening 0, optional Nesterov, coupled weight decay) over many tensors in
// one op, CPU (jvision.ops.multi_tensor). Python prepends the tables (one entry per tensor):
//   jv_p, jv_g: parameter and gradient;  JV_MOMENTUM: jv_b, the momentum buffers (inputs, 1-D)
//   jv_np (new parameters);  JV_MOMENTUM: jv_nb (new buffers);  jv_n: element counts
//   jv_h: [JV_K, 2] per-tensor (lr, wd);  data["momentum"], data["nesterov"], data["first"]
// Per element (PyTorch's SGD):  d = g + wd p;  b' = first ? d : momentum b + d;
//   d = nesterov ? d + momentum b' : b';  p' = p - lr d.
{
    const float mom = (float)data["momentum"];
    const bool nesterov = data["nesterov"] != 0, first = data["first"] != 0;
    const std::vector<jvmt::Block> work = jvmt::blocks(jv_n, JV_K);
    #pragma omp parallel for schedule(dynamic, 4)
    for (long bi = 0; bi < (long)work.size(); bi++) {
        const int t = work[bi].t;
        const long o0 = work[bi].o0, o1 = work[bi].o1;
        const float lr = jv_h[2 * t], wd = jv_h[2 * t + 1];
        const float* p = jv_p[t];
        const float* g = jv_g[t];
        float* np_ = jv_np[t];
#if JV_MOMENTUM
        const float* b = jv_b[t];
        float* nbuf = jv_nb[t];
#endif
        for (long i = o0; i < o1; i++) {
            float d = wd != 0.f ? g[i] + p[i] * wd : g[i];
#if JV_MOMENTUM
            const float bi_ = first ? d : mom * b[i] + d;
            nbuf[i] = bi_;
            d = nesterov ? d + mom * bi_ : bi_;
#endif
            np_[i] = p[i] - lr * d;
        }
    }
}
