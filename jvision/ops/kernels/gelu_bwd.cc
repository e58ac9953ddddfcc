// GELU, backward, CPU: dx = dy * GELU'(x) = dy * (Phi(x) + x * phi(x)) (jvdw::vgelu_grad).
//   in0 x [n]  in1 dy [n]   out0 dx [n] (flattened)
@alias(x, in0)
@alias(dy, in1)
@alias(dx, out0)
{
    using namespace jvdw;
    const long n = x_shape0;
    const long nb = (n + 4095) / 4096;
    #pragma omp parallel for schedule(static)
    for (long blk = 0; blk < nb; blk++) {
        const long i0 = blk * 4096, i1 = std::min(n, i0 + 4096);
        long i = i0;
        for (; i + VL <= i1; i += VL) vstore(dx_p + i, vload(dy_p + i) * vgelu_grad(vload(x_p + i)));
        if (i < i1) {
            alignas(32) float t[VL] = {0}, g[VL] = {0};
            for (long j = i; j < i1; j++) t[j - i] = x_p[j], g[j - i] = dy_p[j];
            const vf v = vload(g) * vgelu_grad(vload(t));
            for (long j = i; j < i1; j++) dx_p[j] = v[j - i];
        }
    }
}
