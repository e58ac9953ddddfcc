// Residual with a per-channel layer scale, backward, CPU (forward: residual_fwd.cc, JV_SCALE).
// With G = dL/dy: dx = G (no op needed), db = scale[c] * G, dscale[c] = sum_{n,s} G * b.
//   in0 b [N, C, S]   in1 scale [C]   in2 g [N, C, S]   out0 db [N, C, S]   out1 dscale [C]
// One OpenMP task per plane writes db and its plane's partial sum (double); the partials are summed
// over n in a fixed order, so the result does not depend on the schedule.
@alias(b, in0)
@alias(scale, in1)
@alias(g, in2)
@alias(db, out0)
@alias(dscale, out1)
{
    using namespace jvdw;
    const long N = b_shape0, C = b_shape1, S = b_shape2;
    std::vector<double> part((size_t)(N * C));
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < N * C; p++) {
        const float a = scale_p[p % C];
        const vf va = vsplat(a);
        const float* bp = b_p + p * S;
        const float* gp = g_p + p * S;
        float* dbp = db_p + p * S;
        vf acc = vsplat(0.f);
        long s = 0;
        for (; s + VL <= S; s += VL) {
            const vf gv = vload(gp + s);
            vstore(dbp + s, va * gv);
            acc += gv * vload(bp + s);
        }
        double sum = hsum(acc);
        for (; s < S; s++) {
            dbp[s] = a * gp[s];
            sum += (double)gp[s] * bp[s];
        }
        part[p] = sum;
    }
    for (long c = 0; c < C; c++) {
        double sum = 0.0;
        for (long n = 0; n < N; n++) sum += part[n * C + c];
        dscale_p[c] = (float)sum;
    }
}
