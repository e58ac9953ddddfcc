// Scaled dot-product attention, backward, CPU (forward: sdpa_fwd.cc). With S = Q K^T * scale,
// P = softmax(S), O = P V and G = dL/dO:
//   dV = P^T G,   dP = G V^T,   dS = P * (dP - rowsum(dP * P)) * scale (the scale folded in),
//   dQ = dS K,    dK = dS^T Q.
// Separate layout:
//   in0 q [B, N, D]  in1 k [B, M, D]  in2 v [B, M, D]  in3 p [B, N, M]  in4 g [B, N, D]
//   out0 dq [B, N, D]  out1 dk [B, M, D]  out2 dv [B, M, D]   data["scale"]
// Packed layout (JV_PACKED, see sdpa_fwd.cc): in0 qkv [S, N, 3 H D]  in1 p [S H, N, N]
//   in2 g [S, N, H D]   out0 dqkv [S, N, 3 H D]
// One OpenMP task per batch entry; dP lives in a per-task scratch buffer of N x M floats.
{
#if JV_PACKED
    const long H = (long)data["heads"], N = in0_shape1, D = in0_shape2 / (3 * H), M = N;
    const long B = in0_shape0 * H, ldi = 3 * H * D, ldg = H * D;
    const float* p_p = in1_p;
    auto q_at = [&](long b) { return in0_p + (b / H) * N * ldi + (b % H) * D; };
    auto k_at = [&](long b) { return q_at(b) + H * D; };
    auto v_at = [&](long b) { return q_at(b) + 2 * H * D; };
    auto g_at = [&](long b) { return in2_p + (b / H) * N * ldg + (b % H) * D; };
    auto dq_at = [&](long b) { return out0_p + (b / H) * N * ldi + (b % H) * D; };
    auto dk_at = [&](long b) { return dq_at(b) + H * D; };
    auto dv_at = [&](long b) { return dq_at(b) + 2 * H * D; };
#else
    const long B = in0_shape0, N = in0_shape1, D = in0_shape2, M = in1_shape1, ldi = D, ldg = D;
    const float* p_p = in3_p;
    auto q_at = [&](long b) { return in0_p + b * N * D; };
    auto k_at = [&](long b) { return in1_p + b * M * D; };
    auto v_at = [&](long b) { return in2_p + b * M * D; };
    auto g_at = [&](long b) { return in4_p + b * N * D; };
    auto dq_at = [&](long b) { return out0_p + b * N * D; };
    auto dk_at = [&](long b) { return out1_p + b * M * D; };
    auto dv_at = [&](long b) { return out2_p + b * M * D; };
#endif
    const float scale = (float)data["scale"];
    #pragma omp parallel
    {
        std::vector<float> ds((size_t)N * M);
        #pragma omp for schedule(dynamic, 1)
        for (long b = 0; b < B; b++) {
            const float* pb = p_p + b * N * M;
            dnnl_sgemm('T', 'N', M, D, N, 1.f, pb, M, g_at(b), ldg, 0.f, dv_at(b), ldi);
            dnnl_sgemm('N', 'T', N, M, D, 1.f, g_at(b), ldg, v_at(b), ldi, 0.f, ds.data(), M);
            jvsdpa::softmax_grad_rows(pb, ds.data(), N, M, scale);
            dnnl_sgemm('N', 'N', N, D, M, 1.f, ds.data(), M, k_at(b), ldi, 0.f, dq_at(b), ldi);
            dnnl_sgemm('T', 'N', M, D, N, 1.f, ds.data(), M, q_at(b), ldi, 0.f, dk_at(b), ldi);
        }
    }
}
