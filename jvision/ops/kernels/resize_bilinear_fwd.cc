// Bilinear resize, forward, CPU (taps: resize_bilinear.h).
//   in0 x [N,C,h,w]   out0 y [N,C,H,W];   data["align"] (align_corners, 0/1)
// One OpenMP task per (n, c) plane. The axis that grows is interpolated last, so that the
// gathers along a row (not vectorisable) happen on as few rows as possible:
//   H > h (upsampling rows): each source row is gathered to width W once (h rows), then every
//     output row is a contiguous blend of two of them (vectorised);
//   otherwise: each output row blends its two source rows (width w), then gathers to width W.
@alias(x, in0)
@alias(y, out0)
{
    const int h = x_shape2, w = x_shape3, H = y_shape2, W = y_shape3;
    const long planes = (long)x_shape0 * x_shape1;
    const bool align = data["align"] != 0;
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    const bool rows_last = H > h;
    #pragma omp parallel
    {
        std::vector<float> buf(rows_last ? (size_t)h * W : (size_t)w);
        #pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            const float* src = x_p + p * h * w;
            float* dst = y_p + p * H * W;
            if (rows_last) {
                for (int sy = 0; sy < h; sy++) jvrs::gather_row(src + (long)sy * w, tx, 0, W, buf.data() + (long)sy * W);
                for (int oy = 0; oy < H; oy++)
                    jvrs::blend_rows(buf.data() + (long)ty.i0[oy] * W, buf.data() + (long)ty.i1[oy] * W, ty.l0[oy],
                                     ty.l1[oy], W, dst + (long)oy * W);
            } else {
                for (int oy = 0; oy < H; oy++) {
                    jvrs::blend_rows(src + (long)ty.i0[oy] * w, src + (long)ty.i1[oy] * w, ty.l0[oy], ty.l1[oy],
                                     w, buf.data());
                    jvrs::gather_row(buf.data(), tx, 0, W, dst + (long)oy * W);
                }
            }
        }
    }
}
