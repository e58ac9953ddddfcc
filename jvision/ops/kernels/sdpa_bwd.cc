// Scaled dot-product attention, backward, CPU (forward: sdpa_fwd.cc). With S = Q K^T * scale,
// P = softmax(S), O = P V and G = dL/dO:
//   dV = P^T G,   dP = G V^T,   dS = P * (dP - rowsum(dP * P)) * scale (the scale folded in),
//   dQ = dS K,    dK = dS^T Q.
//   in0 q [B, N, D]  in1 k [B, M, D]  in2 v [B, M, D]  in3 p [B, N, M]  in4 g [B, N, D]
//   out0 dq [B, N, D]  out1 dk [B, M, D]  out2 dv [B, M, D]   data["scale"]
// One OpenMP task per batch entry; dP lives in a per-task scratch buffer of N x M floats.
@alias(q, in0)
@alias(k, in1)
@alias(v, in2)
@alias(p, in3)
@alias(g, in4)
@alias(dq, out0)
@alias(dk, out1)
@alias(dv, out2)
{
    const long B = q_shape0, N = q_shape1, D = q_shape2, M = k_shape1;
    const float scale = (float)data["scale"];
    #pragma omp parallel
    {
        std::vector<float> ds((size_t)N * M);
        #pragma omp for schedule(dynamic, 1)
        for (long b = 0; b < B; b++) {
            const float* qb = q_p + b * N * D;
            const float* kb = k_p + b * M * D;
            const float* vb = v_p + b * M * D;
            const float* pb = p_p + b * N * M;
            const float* gb = g_p + b * N * D;
            dnnl_sgemm('T', 'N', M, D, N, 1.f, pb, M, gb, D, 0.f, dv_p + b * M * D, D);
            dnnl_sgemm('N', 'T', N, M, D, 1.f, gb, D, vb, D, 0.f, ds.data(), M);
            jvsdpa::softmax_grad_rows(pb, ds.data(), N, M, scale);
            dnnl_sgemm('N', 'N', N, D, M, 1.f, ds.data(), M, kb, D, 0.f, dq_p + b * N * D, D);
            dnnl_sgemm('T', 'N', M, D, N, 1.f, ds.data(), M, qb, D, 0.f, dk_p + b * M * D, D);
        }
    }
}
