// Cumulative sum along one dimension of a tensor viewed as (outer, n, inner):
//   out[o, j, i] = sum_{k <= j} inp[o, k, i]
// Its backward is the reverse cumulative sum (each input feeds every later output):
//   dinp[o, j, i] = sum_{k >= j} dout[o, k, i]
// Sums run in T in index order; with inner > 1 whole rows of `inner` values are added at once.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out, inp are (outer, n, inner); out may alias inp.
template <typename T>
void cumsum_forward(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner);

// dinp, dout are (outer, n, inner); dinp may alias dout.
template <typename T>
void cumsum_backward(T* dinp, const T* dout, int64_t outer, int64_t n, int64_t inner);

// References: one (o, i) column at a time, no threads.
template <typename T>
void cumsum_forward_naive(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner);
template <typename T>
void cumsum_backward_naive(T* dinp, const T* dout, int64_t outer, int64_t n, int64_t inner);

}  // namespace fwp::kernels
