// Scaled dot-product attention, forward, CPU: O = softmax(Q K^T * scale) V per batch entry.
// Separate layout:
//   in0 q [B, N, D]   in1 k [B, M, D]   in2 v [B, M, D]
//   in3 key_bias [B / R, M] (JV_KEY_BIAS): added to the scaled scores of every query of entries
//       b = j * R .. j * R + R - 1 of row j (R = data["repeat"], e.g. the heads sharing a window mask)
//   out0 o [B, N, D]  out1 p [B, N, M] (the probabilities, kept for the backward)   data["scale"]
// Packed layout (JV_PACKED, self-attention, H = data["heads"]): in0 qkv [S, N, 3 H D] as a linear
// layer's output lies (queries, keys, values side by side, each heads-major), out0 o [S, N, H D]
// as the output projection reads it, out1 p [S H, N, N]; entry b is head b % H of sample b / H.
// The products read and write those layouts through their leading dimensions: no transposes.
// One OpenMP task per batch entry (batch x heads entries); oneDNN's sgemm runs single-threaded
// inside the parallel region, so the two products and the softmax of an entry stay in one core's
// cache.
{
#if JV_PACKED
    const long H = (long)data["heads"], N = in0_shape1, D = in0_shape2 / (3 * H), M = N;
    const long B = in0_shape0 * H, ldi = 3 * H * D, ldo = H * D;
    auto q_at = [&](long b) { return in0_p + (b / H) * N * ldi + (b % H) * D; };
    auto k_at = [&](long b) { return q_at(b) + H * D; };
    auto v_at = [&](long b) { return q_at(b) + 2 * H * D; };
    auto o_at = [&](long b) { return out0_p + (b / H) * N * ldo + (b % H) * D; };
#else
    const long B = in0_shape0, N = in0_shape1, D = in0_shape2, M = in1_shape1, ldi = D, ldo = D;
    auto q_at = [&](long b) { return in0_p + b * N * D; };
    auto k_at = [&](long b) { return in1_p + b * M * D; };
    auto v_at = [&](long b) { return in2_p + b * M * D; };
    auto o_at = [&](long b) { return out0_p + b * N * D; };
#endif
    const float scale = (float)data["scale"];
    #pragma omp parallel for schedule(dynamic, 1)
    for (long b = 0; b < B; b++) {
        float* pb = out1_p + b * N * M;
#if JV_KEY_BIAS
        const float* kb = in3_p + (b / (long)data["repeat"]) * M;
        for (long i = 0; i < N; i++) std::memcpy(pb + i * M, kb, M * sizeof(float));
        dnnl_sgemm('N', 'T', N, M, D, scale, q_at(b), ldi, k_at(b), ldi, 1.f, pb, M);
#else
        dnnl_sgemm('N', 'T', N, M, D, scale, q_at(b), ldi, k_at(b), ldi, 0.f, pb, M);
#endif
        jvsdpa::softmax_rows(pb, N, M);
        dnnl_sgemm('N', 'N', N, D, M, 1.f, pb, M, v_at(b), ldi, 0.f, o_at(b), ldo);
    }
}
