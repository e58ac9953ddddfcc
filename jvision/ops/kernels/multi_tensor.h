// Work split of the multi-tensor optimizer updates (adamw_update.cc, sgd_update.cc): the elements
// of K tensors cut into blocks of at most BLK, listed as (tensor, first, end) so that one OpenMP
// loop spreads every tensor's blocks over the threads.
#ifndef JV_MULTI_TENSOR_H
#define JV_MULTI_TENSOR_H
#include <vector>

namespace jvmt {

struct Block {
    int t;
    long o0, o1;
};

static inline std::vector<Block> blocks(const long* n, int K, long blk = 16384) {
    std::vector<Block> out;
    for (int t = 0; t < K; t++)
        for (long o = 0; o < n[t]; o += blk) out.push_back({t, o, o + blk < n[t] ? o + blk : n[t]});
    return out;
}

}  // namespace jvmt
#endif
