// Depthwise convolution, input gradient, CUDA, "igemm" variant (host launcher only).
//   dy [N, C, OH, OW], w [C, 1, KH, KW] -> dx [N, C, H, W]
// For stride 1 the input gradient is a forward convolution of dy with the kernel rotated by 180
// degrees and padding (K-1)*D - P: jvision compiles this file after dwconv_fwd_igemm.cu with those
// parameters (JV_PH / JV_PW set to the gradient's padding, possibly negative, and JV_FLIP = 1), so
// the forward implicit-GEMM kernel does the work.
#if !JV_FLIP || JV_SH != 1 || JV_SW != 1
#error "dwconv_dgrad_igemm.cu: compile with JV_FLIP=1 and stride 1 (see jvision.ops.dwconv.dgrad_spec)"
#endif

template <class T>
static void jv_dwconv_dgrad(const T* dy, const T* w, T* dx, long long N, long long C, long long H,
                            long long W, long long OH, long long OW) {
    jv_dwconv_fwd<T>(dy, w, nullptr, dx, N, C, OH, OW, H, W);
}
