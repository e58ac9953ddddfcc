// Linear layer on rows (tokens), forward, CPU (gemm_cpu.h): y = act(x . W^T + b).
//   in0 x [R, C]   in1 w [D, C]   in2 b [D] (JV_BIAS; otherwise absent)
//   out0 y [R, D]  out1 h [R, D]: the pre-activation, for the backward (JV_GELU && JV_KEEP_PRE)
// The rows are cut into blocks, a multiple of the thread count, one OpenMP task each: the block's
// bias rows, its sgemm (single-threaded inside the task) and its GELU run while it is in cache.
@alias(x, in0)
@alias(w, in1)
@alias(y, out0)
{
    const long R = x_shape0, C = x_shape1, D = w_shape0;
    long nblk, rb;
    jvgemm::row_blocks(R, nblk, rb);
    #pragma omp parallel for schedule(static)
    for (long blk = 0; blk < nblk; blk++) {
        const long r0 = blk * rb, r1 = std::min(R, r0 + rb);
        if (r0 >= r1) continue;
#if JV_GELU && JV_KEEP_PRE
        float* hb = out1_p + r0 * D;
#else
        float* hb = y_p + r0 * D;
#endif
        float beta = 0.f;
#if JV_BIAS
        for (long r = r0; r < r1; r++) std::memcpy(hb + (r - r0) * D, in2_p, D * sizeof(float));
        beta = 1.f;
#endif
        dnnl_sgemm('N', 'T', r1 - r0, D, C, 1.f, x_p + r0 * C, C, w_p, C, beta, hb, D);
#if JV_GELU
        jvgemm::gelu_span(hb, y_p + r0 * D, 0, (r1 - r0) * D);
#endif
    }
}
