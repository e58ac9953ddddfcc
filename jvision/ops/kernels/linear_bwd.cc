// Linear layer on rows, backward, CPU (forward: linear_fwd.cc). With G = dL/dy and, under JV_GELU,
// G := G * GELU'(h) first (h the pre-activation the forward kept):
//   dx = G . W,   dW = G^T . x,   db = column sums of G.
//   in0 x [R, C]   in1 w [D, C]   in2 g [R, D]   in3 h [R, D] (JV_GELU)
//   out0 dx [R, C]   out1 dw [D, C]   out2 db [D] (JV_BIAS; otherwise absent)
// dx and the GELU gradient go by row blocks, one OpenMP task each; dW is one sgemm with oneDNN's
// threading (a reduction over all rows); db sums per-block partials in a fixed order.
@alias(x, in0)
@alias(w, in1)
@alias(g, in2)
@alias(dx, out0)
@alias(dw, out1)
{
    const long R = x_shape0, C = x_shape1, D = w_shape0;
    const long T = omp_get_max_threads();
    const long nblk = std::max(T, (R + 255) / 256 + T - 1) / T * T;
    const long rb = (R + nblk - 1) / nblk;
#if JV_GELU
    std::vector<float> gh_buf((size_t)R * D);
    float* gp = gh_buf.data();
#else
    const float* gp = g_p;
#endif
#if JV_BIAS
    std::vector<float> bpart((size_t)nblk * D, 0.f);
#endif
    #pragma omp parallel for schedule(static)
    for (long blk = 0; blk < nblk; blk++) {
        const long r0 = blk * rb, r1 = std::min(R, r0 + rb);
        if (r0 >= r1) continue;
#if JV_GELU
        jvgemm::gelu_grad_span(in3_p, g_p, gp, r0 * D, r1 * D);
#endif
        dnnl_sgemm('N', 'N', r1 - r0, C, D, 1.f, gp + r0 * D, D, w_p, C, 0.f, dx_p + r0 * C, C);
#if JV_BIAS
        jvgemm::add_col_sums(gp + r0 * D, r1 - r0, D, bpart.data() + blk * D);
#endif
    }
    dnnl_sgemm('T', 'N', D, C, R, 1.f, gp, D, x_p, C, 0.f, dw_p, C);
#if JV_BIAS
    for (long d = 0; d < D; d++) {
        float s = 0.f;
        for (long blk = 0; blk < nblk; blk++) s += bpart[blk * D + d];
        out2_p[d] = s;
    }
#endif
}
