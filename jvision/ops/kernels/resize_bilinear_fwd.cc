// Bilinear resize, forward, CPU (taps: resize_bilinear.h).
//   in0 x [N,C,h,w]   out0 y [N,C,H,W];   data["align"] (align_corners, 0/1)
// One OpenMP task per (n, c) plane: per output row, the two source rows are blended into a
// row buffer (contiguous, vectorised), then gathered along the row.
@alias(x, in0)
@alias(y, out0)
{
    const int h = x_shape2, w = x_shape3, H = y_shape2, W = y_shape3;
    const long planes = (long)x_shape0 * x_shape1;
    const bool align = data["align"] != 0;
    const jvrs::Taps ty = jvrs::axis_taps(h, H, align), tx = jvrs::axis_taps(w, W, align);
    #pragma omp parallel
    {
        std::vector<float> row(w);
        #pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            const float* src = x_p + p * h * w;
            float* dst = y_p + p * H * W;
            for (int oy = 0; oy < H; oy++) {
                jvrs::blend_rows(src + (long)ty.i0[oy] * w, src + (long)ty.i1[oy] * w, ty.l0[oy], ty.l1[oy],
                                 w, row.data());
                jvrs::gather_row(row.data(), tx, 0, W, dst + (long)oy * W);
            }
        }
    }
}
