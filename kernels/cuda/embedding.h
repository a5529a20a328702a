// Embedding lookup and its scatter-add backward on the device: the twins of
// kernels/cpu/embedding.h (same signatures and semantics, every pointer, ids included, on the
// device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void embedding_forward_cuda(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D);

template <typename T>
void embedding_backward_cuda(T* dweight, const T* dout, const int64_t* ids, int64_t N, int64_t V,
                             int64_t D);

}  // namespace fwp::kernels
