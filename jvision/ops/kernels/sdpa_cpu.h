// Scaled dot-product attention on the CPU: the row softmax and its gradient that the forward and
// backward kernels share (the products: oneDNN's sgemm, gemm_cpu.h, included before this file).
#ifndef JV_SDPA_CPU_H
#define JV_SDPA_CPU_H

namespace jvsdpa {
using namespace jvdw;

// Row i of s [rows, cols] := softmax(s_i) in place (s already holds the scaled scores).
static inline void softmax_rows(float* s, long rows, long cols) {
    for (long i = 0; i < rows; i++) {
        float* r = s + i * cols;
        long j = 0;
        float mx = r[0];
        if (cols >= VL) {
            vf vm = vload(r);
            for (j = VL; j + VL <= cols; j += VL) {
                const vf x = vload(r + j);
                vm = x > vm ? x : vm;
            }
            for (int l = 0; l < VL; l++) mx = vm[l] > mx ? vm[l] : mx;
        }
        for (; j < cols; j++) mx = r[j] > mx ? r[j] : mx;
        const vf vmx = vsplat(mx);
        vf acc = vsplat(0.f);
        for (j = 0; j + VL <= cols; j += VL) {
            const vf e = vexp(vload(r + j) - vmx);
            vstore(r + j, e);
            acc += e;
        }
        float sum = hsum(acc);
        for (; j < cols; j++) {
            const float e = std::exp(r[j] - mx);
            r[j] = e;
            sum += e;
        }
        const float inv = 1.f / sum;
        for (j = 0; j < cols; j++) r[j] *= inv;
    }
}

// dS = P * (dP - rowsum(dP * P)) * scale, written over dp.
static inline void softmax_grad_rows(const float* p, float* dp, long rows, long cols, float scale) {
    for (long i = 0; i < rows; i++) {
        const float* pr = p + i * cols;
        float* gr = dp + i * cols;
        vf acc = vsplat(0.f);
        long j = 0;
        for (; j + VL <= cols; j += VL) acc += vload(pr + j) * vload(gr + j);
        float dot = hsum(acc);
        for (; j < cols; j++) dot += pr[j] * gr[j];
        for (j = 0; j < cols; j++) gr[j] = pr[j] * (gr[j] - dot) * scale;
    }
}
}  // namespace jvsdpa
#endif
