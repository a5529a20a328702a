// Softmax and log-softmax over the last dimension on the device: the twins of
// kernels/cpu/softmax.h (same signatures, aliasing rules and -inf / NaN contract; pointers on
// the device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void softmax_forward_cuda(T* out, const T* inp, int64_t rows, int64_t cols);
template <typename T>
void softmax_backward_cuda(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);
template <typename T>
void log_softmax_forward_cuda(T* out, const T* inp, int64_t rows, int64_t cols);
template <typename T>
void log_softmax_backward_cuda(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);

}  // namespace fwp::kernels
