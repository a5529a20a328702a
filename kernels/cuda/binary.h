// Broadcasting elementwise binary ops on the device: the twins of kernels/cpu/binary.h (same
// signatures and semantics; data pointers on the device, shape and strides on the host, at most
// kBinaryCudaMaxDims dimensions). Built with FWP_CUDA.
#pragma once
#include <cstdint>

#include "kernels/cpu/binary.h"

namespace fwp::kernels {

constexpr int kBinaryCudaMaxDims = 8;

template <typename T>
void binary_forward_cuda(T* out, const T* a, const T* b, BinaryOp op, const int64_t* shape,
                         const int64_t* a_strides, const int64_t* b_strides, int ndim);

template <typename T>
void binary_scalar_cuda(T* out, const T* a, T s, BinaryOp op, int64_t n);

template <typename T>
void axpy_cuda(T* out, const T* x, T alpha, int64_t n);

}  // namespace fwp::kernels
