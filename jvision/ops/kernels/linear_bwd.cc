// Linear layer on rows, backward, CPU (forward: linear_fwd.cc). With G = dL/dy and, under JV_GELU,
// G := G * GELU'(h) first (h the pre-activation the forward kept):
//   dx = G . W,   dW = G^T . x,   db = column sums of G.
//   in0 x [R, C]   in1 w [D, C]   in2 g [R, D]   in3 h [R, D] (JV_GELU)
//   out0 dx [R, C]   out1 dw [D, C]   out2 db [D] (JV_BIAS; otherwise absent)
// dx (and the GELU gradient) go by row blocks, one OpenMP task each. Without GELU, dW is one sgemm
// with oneDNN's threading (a reduction over all rows); with it, each block's share is added to a
// per-thread partial while the block's gradient is in cache. db sums per-block partials in a
// fixed order.
@alias(x, in0)
@alias(w, in1)
@alias(g, in2)
@alias(dx, out0)
@alias(dw, out1)
{
    const long R = x_shape0, C = x_shape1, D = w_shape0;
    const long T = omp_get_max_threads();
    long nblk, rb;
    jvgemm::row_blocks(R, nblk, rb);
#if JV_BIAS
    std::vector<float> bpart((size_t)nblk * D, 0.f);
#endif
#if JV_GELU
    // G * GELU'(h) exists one row block at a time, in a per-thread buffer: each block's dx, and
    // its share of dW accumulated into a per-thread partial (thread 0's is dw itself), are taken
    // from it while it is in cache. The partials are summed in thread order at the end.
    std::unique_ptr<float[]> part(new float[(size_t)std::max(0L, T - 1) * D * C]);
    #pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        float* acc = t == 0 ? dw_p : part.get() + (size_t)(t - 1) * D * C;
        std::unique_ptr<float[]> gh(new float[(size_t)rb * D]);
        float beta = 0.f;
        #pragma omp for schedule(static)
        for (long blk = 0; blk < nblk; blk++) {
            const long r0 = blk * rb, r1 = std::min(R, r0 + rb);
            if (r0 >= r1) continue;
            jvgemm::gelu_grad_span(in3_p + r0 * D, g_p + r0 * D, gh.get(), 0, (r1 - r0) * D);
            dnnl_sgemm('N', 'N', r1 - r0, C, D, 1.f, gh.get(), D, w_p, C, 0.f, dx_p + r0 * C, C);
            dnnl_sgemm('T', 'N', D, C, r1 - r0, 1.f, gh.get(), D, x_p + r0 * C, C, beta, acc, C);
            beta = 1.f;
#if JV_BIAS
            jvgemm::add_col_sums(gh.get(), r1 - r0, D, bpart.data() + blk * D);
#endif
        }
        if (beta == 0.f) std::memset(acc, 0, (size_t)D * C * sizeof(float));   // a thread without blocks
    }
    const long DC = D * C;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < DC; i++) {
        float s = dw_p[i];
        for (long t = 1; t < T; t++) s += part[(size_t)(t - 1) * DC + i];
        dw_p[i] = s;
    }
#else
    #pragma omp parallel for schedule(static)
    for (long blk = 0; blk < nblk; blk++) {
        const long r0 = blk * rb, r1 = std::min(R, r0 + rb);
        if (r0 >= r1) continue;
        dnnl_sgemm('N', 'N', r1 - r0, C, D, 1.f, g_p + r0 * D, D, w_p, C, 0.f, dx_p + r0 * C, C);
#if JV_BIAS
        jvgemm::add_col_sums(g_p + r0 * D, r1 - r0, D, bpart.data() + blk * D);
#endif
    }
    dnnl_sgemm('T', 'N', D, C, R, 1.f, g_p, D, x_p, C, 0.f, dw_p, C);
#endif
#if JV_BIAS
    for (long d = 0; d < D; d++) {
        float s = 0.f;
        for (long blk = 0; blk < nblk; blk++) s += bpart[blk * D + d];
        out2_p[d] = s;
    }
#endif
}
