// Cumulative sum along one dimension on the device: the twins of kernels/cpu/cumsum.h (same
// signatures, semantics and aliasing rules; pointers on the device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void cumsum_forward_cuda(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner);

template <typename T>
void cumsum_backward_cuda(T* dinp, const T* dout, int64_t outer, int64_t n, int64_t inner);

}  // namespace fwp::kernels
