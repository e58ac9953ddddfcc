// GELU (exact erf form, as torch.nn.GELU()), forward, CPU: y = x * Phi(x) (jvdw::vgelu).
//   in0 x [n] (flattened)   out0 y [n]
// OpenMP over blocks of 4096 elements, vectorised; the tail of the last vector goes through a
// zero-padded copy.
@alias(x, in0)
@alias(y, out0)
{
    using namespace jvdw;
    const long n = x_shape0;
    const long nb = (n + 4095) / 4096;
    #pragma omp parallel for schedule(static)
    for (long blk = 0; blk < nb; blk++) {
        const long i0 = blk * 4096, i1 = std::min(n, i0 + 4096);
        long i = i0;
        for (; i + VL <= i1; i += VL) vstore(y_p + i, vgelu(vload(x_p + i)));
        if (i < i1) {
            alignas(32) float t[VL] = {0};
            for (long j = i; j < i1; j++) t[j - i] = x_p[j];
            const vf v = vgelu(vload(t));
            for (long j = i; j < i1; j++) y_p[j] = v[j - i];
        }
    }
}
