// AdamW step over many tensors in one op, CPU (the multi-tensor update of jvision.ops.multi_tensor).
// Python prepends the tables naming this op's inputs and outputs (one entry per tensor t < JV_K):
//   jv_p, jv_g, jv_m, jv_v: parameter, gradient, first and second moments (inputs, 1-D)
//   jv_np, jv_nm, jv_nv:    their new values (outputs);  jv_n: element counts
//   jv_h: [JV_K, 2] per-tensor (decay, step) = (1 - lr * wd, lr / (1 - beta1^step)), from double
//   data["b1"], data["b2"], data["eps"], data["sbc2"] = sqrt(1 - beta2^step)
// Per element (PyTorch's AdamW):  p' = p * decay;  m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g^2;
//   p'' = p' - step * m' / (sqrt(v') / sbc2 + eps).
// All tensors are cut into blocks (multi_tensor.h) spread over the threads.
{
    const float b1 = (float)data["b1"], b2 = (float)data["b2"];
    const float c1 = (float)(1.0 - data["b1"]), c2 = (float)(1.0 - data["b2"]);
    const float eps = (float)data["eps"], sbc2 = (float)data["sbc2"];
    const std::vector<jvmt::Block> work = jvmt::blocks(jv_n, JV_K);
    #pragma omp parallel for schedule(dynamic, 4)
    for (long bi = 0; bi < (long)work.size(); bi++) {
        const int t = work[bi].t;
        const long o0 = work[bi].o0, o1 = work[bi].o1;
        const float decay = jv_h[2 * t], step = jv_h[2 * t + 1];
        const float* p = jv_p[t];
        const float* g = jv_g[t];
        const float* m = jv_m[t];
        const float* v = jv_v[t];
        float* np_ = jv_np[t];
        float* nm = jv_nm[t];
        float* nv = jv_nv[t];
        for (long i = o0; i < o1; i++) {
            const float gi = g[i];
            const float mi = b1 * m[i] + c1 * gi;
            const float vi = b2 * v[i] + c2 * gi * gi;
            nm[i] = mi;
            nv[i] = vi;
            np_[i] = p[i] * decay - step * mi / (std::sqrt(vi) / sbc2 + eps);
        }
    }
}
