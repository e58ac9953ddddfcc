// Runs the CUDA sources of this folder on the CPU, for tests on machines without a GPU.
//
// Included (with JV_CUDA_EMU defined) instead of the CUDA headers, it lets a .cu file compile as
// plain C++17 and run: every CUDA thread is a fiber (ucontext) with its own stack, the blocks of a
// grid run one after another, the threads of a block take turns and meet at __syncthreads()
// (block barrier) and at warp shuffles (warp barrier), so kernels that rely on barriers, shared
// memory and shuffles behave as on a GPU, with one difference: the threads are sequential, so a
// data race goes unseen. A barrier that cannot be reached by every live thread of its block (or
// warp) aborts with a message instead of hanging. `__shared__` variables become function statics:
// one copy per kernel instantiation, which is right because blocks never overlap here.
// Half and bfloat16 are bit-exact IEEE binary16 / bfloat16 with round-to-nearest-even, as
// __float2half_rn / __float2bfloat16_rn. Under AddressSanitizer the fiber switches are announced
// to it, so out-of-bounds accesses of global memory are reported like compute-sanitizer would.
// Supports what the kernels here use, nothing more: launches through JV_LAUNCH, threadIdx,
// blockIdx, blockDim, gridDim, __syncthreads, __shfl_{down,xor,sync}_sync, the conversions,
// cudaGetLastError, cudaMemsetAsync.
#ifndef JV_CUDA_EMU_H
#define JV_CUDA_EMU_H
#define JV_CUDA_EMU 1
#include <ucontext.h>
#include <sys/mman.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define JV_EMU_ASAN 1
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                size_t* size_old);
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef int cudaError_t;
typedef void* cudaStream_t;
constexpr cudaError_t cudaSuccess = 0;

namespace jvemu {

// ---------------------------------------------------------------------------------------------
// 16-bit floats
static inline uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

static inline uint16_t float_to_half_bits(float f) {
    const uint32_t x = f2u(f), sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return (uint16_t)(sign | (mag > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);           // rounds to infinity
    if (mag < 0x38800000u) {                                             // subnormal or zero
        const float a = u2f(mag) * 16777216.0f;                          // * 2^24: units of 2^-24
        const uint32_t q = (uint32_t)std::nearbyint(a);                  // ties to even (default mode)
        return (uint16_t)(sign | q);
    }
    const uint32_t e = ((mag >> 23) - 112) << 10, m = (mag >> 13) & 0x3ffu, rest = mag & 0x1fffu;
    uint32_t h = e | m;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}
static inline float half_bits_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) return u2f(sign) + (sign ? -1.f : 1.f) * (float)m * 5.9604644775390625e-08f;
    if (e == 31) return u2f(sign | 0x7f800000u | (m << 13));
    return u2f(sign | ((e + 112) << 23) | (m << 13));
}
static inline uint16_t float_to_bf16_bits(float f) {
    uint32_t x = f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // quiet NaN
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
static inline float bf16_bits_to_float(uint16_t b) { return u2f((uint32_t)b << 16); }

struct half {
    uint16_t bits;
    half() = default;
    half(float f) : bits(float_to_half_bits(f)) {}
    operator float() const { return half_bits_to_float(bits); }
};
struct bfloat16 {
    uint16_t bits;
    bfloat16() = default;
    bfloat16(float f) : bits(float_to_bf16_bits(f)) {}
    operator float() const { return bf16_bits_to_float(bits); }
};

// ---------------------------------------------------------------------------------------------
// fibers
enum State { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct Thread {
    ucontext_t ctx;
    State state;
    dim3 idx;
    int linear;
};

struct Emu {
    std::vector<Thread> threads;
    ucontext_t sched;
    Thread* cur = nullptr;
    dim3 block_idx, block_dim, grid_dim;
    size_t stack_size = 256 * 1024;
    char* stacks = nullptr;
    size_t stacks_threads = 0;
    void (*body)(void*) = nullptr;
    void* body_arg = nullptr;
    double slots[32 * 32];  // warp-shuffle exchange, per warp and lane
#ifdef JV_EMU_ASAN
    void* fake_stack = nullptr;
    const void* sched_bottom = nullptr;
    size_t sched_size = 0;
#endif
};

static inline Emu& emu() {
    static Emu e;
    return e;
}
static inline Thread* cur() { return emu().cur; }

[[noreturn]] static inline void fail(const char* what) {
    std::fprintf(stderr, "jvision CUDA emulator: %s (block %u,%u,%u)\n", what, emu().block_idx.x,
                 emu().block_idx.y, emu().block_idx.z);
    std::abort();
}

static inline void to_scheduler() {
    Emu& e = emu();
#ifdef JV_EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, e.sched_bottom, e.sched_size);
#endif
    swapcontext(&e.cur->ctx, &e.sched);
#ifdef JV_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

static void trampoline() {
    Emu& e = emu();
#ifdef JV_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &e.sched_bottom, &e.sched_size);
#endif
    e.body(e.body_arg);
    e.cur->state = DONE;
#ifdef JV_EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, e.sched_bottom, e.sched_size);
#endif
    setcontext(&e.sched);
}

static inline bool release(State at, int warp) {
    Emu& e = emu();
    const int n = (int)e.threads.size();
    const int lo = warp < 0 ? 0 : warp * 32, hi = warp < 0 ? n : (lo + 32 < n ? lo + 32 : n);
    bool any = false;
    for (int t = lo; t < hi; t++) {
        if (e.threads[t].state == DONE) continue;
        if (e.threads[t].state != at) return false;
        any = true;
    }
    if (!any) return false;
    for (int t = lo; t < hi; t++)
        if (e.threads[t].state == at) e.threads[t].state = READY;
    return true;
}

static inline void run_block(void (*body)(void*), void* arg) {
    Emu& e = emu();
    const int n = (int)(e.block_dim.x * e.block_dim.y * e.block_dim.z);
    if (n <= 0 || n > 1024) fail("block size must be 1..1024 threads");
    if ((size_t)n > e.stacks_threads) {
        if (e.stacks) munmap(e.stacks, e.stacks_threads * e.stack_size);
        void* p = mmap(nullptr, (size_t)n * e.stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) fail("cannot allocate fiber stacks");
        e.stacks = (char*)p;
        e.stacks_threads = (size_t)n;
    }
    e.threads.assign(n, Thread());
    e.body = body;
    e.body_arg = arg;
    for (int t = 0; t < n; t++) {
        Thread& th = e.threads[t];
        th.linear = t;
        th.idx = dim3(t % e.block_dim.x, (t / e.block_dim.x) % e.block_dim.y, t / (e.block_dim.x * e.block_dim.y));
        th.state = READY;
        getcontext(&th.ctx);
        th.ctx.uc_stack.ss_sp = e.stacks + (size_t)t * e.stack_size;
        th.ctx.uc_stack.ss_size = e.stack_size;
        th.ctx.uc_link = nullptr;
        makecontext(&th.ctx, trampoline, 0);
    }
    for (;;) {
        bool ran = false;
        for (int t = 0; t < n; t++) {
            Thread& th = e.threads[t];
            if (th.state != READY) continue;
            e.cur = &th;
#ifdef JV_EMU_ASAN
            __sanitizer_start_switch_fiber(&e.fake_stack, th.ctx.uc_stack.ss_sp, e.stack_size);
#endif
            swapcontext(&e.sched, &th.ctx);
#ifdef JV_EMU_ASAN
            __sanitizer_finish_switch_fiber(e.fake_stack, nullptr, nullptr);
#endif
            ran = true;
        }
        e.cur = nullptr;
        bool all_done = true;
        for (int t = 0; t < n; t++) all_done = all_done && e.threads[t].state == DONE;
        if (all_done) return;
        bool released = false;
        for (int w = 0; w * 32 < n; w++) released = release(AT_WARP_BARRIER, w) || released;
        if (!released) released = release(AT_BLOCK_BARRIER, -1);
        if (!released && !ran) fail("deadlock: a barrier or shuffle not reached by every live thread");
    }
}

template <class F>
static void call_thunk(void* f) { (*(F*)f)(); }

template <class... P, class... A>
static void launch_now(dim3 grid, dim3 block, void (*kernel)(P...), A... args) {
    Emu& e = emu();
    e.grid_dim = grid;
    e.block_dim = block;
    auto body = [&]() { kernel(args...); };
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                e.block_idx = dim3(x, y, z);
                run_block(&call_thunk<decltype(body)>, &body);
            }
}

template <class... P>
struct Launch {
    dim3 grid, block;
    void (*kernel)(P...);
    template <class... A>
    void operator()(A... args) const {
        launch_now(grid, block, kernel, (P)args...);
    }
};
template <class... P>
static Launch<P...> launch(dim3 grid, dim3 block, void (*kernel)(P...)) {
    return Launch<P...>{grid, block, kernel};
}

// ---------------------------------------------------------------------------------------------
// barriers and shuffles
static inline void syncthreads() {
    cur()->state = AT_BLOCK_BARRIER;
    to_scheduler();
}
static inline void syncwarp() {
    cur()->state = AT_WARP_BARRIER;
    to_scheduler();
}
template <class T, class Map>
static inline T exchange(T v, Map src) {
    static_assert(sizeof(T) <= sizeof(double), "shuffle of a type wider than 8 bytes");
    Emu& e = emu();
    const int t = cur()->linear, warp = t / 32, lane = t % 32;
    const int n = (int)e.threads.size(), width = (warp * 32 + 32 <= n) ? 32 : n - warp * 32;
    std::memcpy(&e.slots[t], &v, sizeof(T));
    syncwarp();
    const int s = src(lane);
    T r = v;
    if (s >= 0 && s < width) std::memcpy(&r, &e.slots[warp * 32 + s], sizeof(T));
    syncwarp();
    return r;
}

}  // namespace jvemu

#define JV_LAUNCH(grid, block, ...) ::jvemu::launch(grid, block, &__VA_ARGS__)
#define threadIdx (::jvemu::cur()->idx)
#define blockIdx (::jvemu::emu().block_idx)
#define blockDim (::jvemu::emu().block_dim)
#define gridDim (::jvemu::emu().grid_dim)

static inline void __syncthreads() { ::jvemu::syncthreads(); }
static inline void __syncwarp(unsigned = 0xffffffffu) { ::jvemu::syncwarp(); }
template <class T> static inline T __shfl_down_sync(unsigned, T v, int d, int = 32) {
    return ::jvemu::exchange(v, [d](int lane) { return lane + d; });
}
template <class T> static inline T __shfl_xor_sync(unsigned, T v, int m, int = 32) {
    return ::jvemu::exchange(v, [m](int lane) { return lane ^ m; });
}
template <class T> static inline T __shfl_sync(unsigned, T v, int s, int = 32) {
    return ::jvemu::exchange(v, [s](int) { return s; });
}
template <class T> static inline T __ldg(const T* p) { return *p; }

typedef ::jvemu::half __half;
typedef ::jvemu::bfloat16 __nv_bfloat16;
static inline float __half2float(__half h) { return (float)h; }
static inline __half __float2half(float f) { return __half(f); }
static inline __half __float2half_rn(float f) { return __half(f); }
static inline float __bfloat162float(__nv_bfloat16 h) { return (float)h; }
static inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
static inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }

static inline cudaError_t cudaGetLastError() { return cudaSuccess; }
static inline const char* cudaGetErrorString(cudaError_t) { return "no error"; }
static inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t = nullptr) {
    std::memset(p, v, n);
    return cudaSuccess;
}
#endif  // JV_CUDA_EMU_H
