// Bilinear resize, backward, CPU: the transpose of resize_bilinear_fwd.cc.
//   in0 dy [N,C,H,W]   out0 dx [N,C,h,w];   data["align"]
// One OpenMP task per (n, c) plane (planes are independent: no atomics, the result does not
// depend on the thread count): each output-gradient row is scattered along the row into a
// buffer, which is then added to its two source rows with the vertical weights.
@alias(dy, in0)
@alias(dx, out0)
{
    const int h = dx_shape2, w = dx_shape3, H = dy_shape2, W = dy_shape3;
    const long planes = (long)dy_shape0 * dy_shape1;
    const bool align = data["align"] != 0;
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    #pragma omp parallel
    {
        std::vector<float> row(w);
        #pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            const float* g = dy_p + p * H * W;
            float* dst = dx_p + p * h * w;
            std::fill(dst, dst + (long)h * w, 0.f);
            for (int oy = 0; oy < H; oy++) {
                std::fill(row.begin(), row.end(), 0.f);
                jvrs::scatter_row(g + (long)oy * W, tx, 0, W, row.data());
                float* r0 = dst + (long)ty.i0[oy] * w;
                float* r1 = dst + (long)ty.i1[oy] * w;
                const float l0 = ty.l0[oy], l1 = ty.l1[oy];
                for (int i = 0; i < w; i++) r0[i] += l0 * row[i];
                for (int i = 0; i < w; i++) r1[i] += l1 * row[i];
            }
        }
    }
}
