// Embedding lookup: a gather of rows of a (V, D) table, and its backward, a scatter-add.
//   out[n, :] = weight[ids[n], :]          dweight[v, :] = sum over {n : ids[n] == v} of dout[n, :]
// Repeated ids accumulate. The ids are assumed to lie in [0, V): the caller checks them.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out (N, D); weight (V, D); ids (N)
template <typename T>
void embedding_forward(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D);

// dweight (V, D) is overwritten; dout (N, D); ids (N)
template <typename T>
void embedding_backward(T* dweight, const T* dout, const int64_t* ids, int64_t N, int64_t V,
                        int64_t D);

// References: plain loops, no threads.
template <typename T>
void embedding_forward_naive(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D);
template <typename T>
void embedding_backward_naive(T* dweight, const T* dout, const int64_t* ids, int64_t N, int64_t V,
                              int64_t D);

}  // namespace fwp::kernels
