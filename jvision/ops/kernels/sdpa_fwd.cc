// Scaled dot-product attention, forward, CPU: O = softmax(Q K^T * scale) V per batch entry.
//   in0 q [B, N, D]   in1 k [B, M, D]   in2 v [B, M, D]
//   in3 key_bias [B / R, M] (JV_KEY_BIAS): added to the scaled scores of every query of entries
//       b = j * R .. j * R + R - 1 of row j (R = data["repeat"], e.g. the heads sharing a window mask)
//   out0 o [B, N, D]  out1 p [B, N, M] (the probabilities, kept for the backward)   data["scale"]
// One OpenMP task per batch entry (batch x heads entries); oneDNN's sgemm runs single-threaded
// inside the parallel region, so the two products and the softmax of an entry stay in one core's
// cache.
@alias(q, in0)
@alias(k, in1)
@alias(v, in2)
@alias(o, out0)
@alias(p, out1)
{
    const long B = q_shape0, N = q_shape1, D = q_shape2, M = k_shape1;
    const float scale = (float)data["scale"];
    #pragma omp parallel for schedule(dynamic, 1)
    for (long b = 0; b < B; b++) {
        float* pb = p_p + b * N * M;
#if JV_KEY_BIAS
        const float* kb = in3_p + (b / (long)data["repeat"]) * M;
        for (long i = 0; i < N; i++) std::memcpy(pb + i * M, kb, M * sizeof(float));
        dnnl_sgemm('N', 'T', N, M, D, scale, q_p + b * N * D, D, k_p + b * M * D, D, 1.f, pb, M);
#else
        dnnl_sgemm('N', 'T', N, M, D, scale, q_p + b * N * D, D, k_p + b * M * D, D, 0.f, pb, M);
#endif
        jvsdpa::softmax_rows(pb, N, M);
        dnnl_sgemm('N', 'N', N, D, M, 1.f, pb, M, v_p + b * M * D, D, 0.f, o_p + b * N * D, D);
    }
}
