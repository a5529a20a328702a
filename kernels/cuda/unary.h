// Pointwise nonlinearities on the device: the twins of kernels/cpu/unary.h (same ops, formulas
// and aliasing rules; every pointer on the device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

#include "kernels/cpu/unary.h"

namespace fwp::kernels {

template <typename T>
void unary_forward_cuda(T* out, const T* inp, UnaryOp op, T alpha, int64_t n);

template <typename T>
void unary_backward_cuda(T* dinp, const T* dout, const T* inp, const T* out, UnaryOp op, T alpha,
                         int64_t n);

}  // namespace fwp::kernels
