// Cross-entropy fused with the log-softmax on the device: the twins of
// kernels/cpu/cross_entropy.h (same signatures and semantics, every pointer, the targets
// included, on the device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void cross_entropy_forward_cuda(T* losses, T* lse, const T* logits, const int64_t* targets,
                                int64_t N, int64_t V, int64_t ignore_index);

template <typename T>
void cross_entropy_backward_cuda(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                                 const int64_t* targets, int64_t N, int64_t V,
                                 int64_t ignore_index);

}  // namespace fwp::kernels
