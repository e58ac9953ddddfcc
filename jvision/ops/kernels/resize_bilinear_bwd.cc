// Bilinear resize, backward, CPU: the transpose of resize_bilinear_fwd.cc, in the transposed order.
//   in0 dy [N,C,H,W]   out0 dx [N,C,h,w];   data["align"]
// One OpenMP task per (n, c) plane (planes are independent: no atomics, the result does not
// depend on the thread count).
//   H > h: every output-gradient row is added into its two source rows at width W (contiguous,
//     vectorised), then each of the h rows is scattered along x to width w;
//   otherwise: each output-gradient row is scattered along x to width w, then added into its
//     two source rows.
@alias(dy, in0)
@alias(dx, out0)
{
    const int h = dx_shape2, w = dx_shape3, H = dy_shape2, W = dy_shape3;
    const long planes = (long)dy_shape0 * dy_shape1;
    const bool align = data["align"] != 0;
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    const bool rows_last = H > h;
    #pragma omp parallel
    {
        std::vector<float> buf(rows_last ? (size_t)h * W : (size_t)w);
        #pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            const float* g = dy_p + p * H * W;
            float* dst = dx_p + p * h * w;
            std::fill(dst, dst + (long)h * w, 0.f);
            std::fill(buf.begin(), buf.end(), 0.f);
            if (rows_last) {
                for (int oy = 0; oy < H; oy++) {
                    const float* gr = g + (long)oy * W;
                    float* r0 = buf.data() + (long)ty.i0[oy] * W;
                    float* r1 = buf.data() + (long)ty.i1[oy] * W;
                    const float l0 = ty.l0[oy], l1 = ty.l1[oy];
                    for (int i = 0; i < W; i++) r0[i] += l0 * gr[i];
                    for (int i = 0; i < W; i++) r1[i] += l1 * gr[i];
                }
                for (int sy = 0; sy < h; sy++) jvrs::scatter_row(buf.data() + (long)sy * W, tx, 0, W, dst + (long)sy * w);
            } else {
                for (int oy = 0; oy < H; oy++) {
                    std::fill(buf.begin(), buf.end(), 0.f);
                    jvrs::scatter_row(g + (long)oy * W, tx, 0, W, buf.data());
                    float* r0 = dst + (long)ty.i0[oy] * w;
                    float* r1 = dst + (long)ty.i1[oy] * w;
                    const float l0 = ty.l0[oy], l1 = ty.l1[oy];
                    for (int i = 0; i < w; i++) r0[i] += l0 * buf[i];
                    for (int i = 0; i < w; i++) r1[i] += l1 * buf[i];
                }
            }
        }
    }
}
