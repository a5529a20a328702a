// Elementwise binary ops with broadcasting: out = a (op) b.
// Broadcasting is expressed by strides: a and b are indexed with their own strides in the
// index space of `out` (stride 0 along a broadcast dimension). `out` is contiguous.
#pragma once
#include <cstdint>

namespace fwp::kernels {

enum class BinaryOp { add, sub, mul, div };

// out is shape[0..ndim), a/b are read at sum_i index_i * a_strides[i] (resp. b_strides).
template <typename T>
void binary_forward(T* out, const T* a, const T* b, BinaryOp op, const int64_t* shape,
                    const int64_t* a_strides, const int64_t* b_strides, int ndim);

// Reference: one index computation per element, no coalescing, no threads.
template <typename T>
void binary_forward_naive(T* out, const T* a, const T* b, BinaryOp op, const int64_t* shape,
                          const int64_t* a_strides, const int64_t* b_strides, int ndim);

// out = a (op) s for a scalar s; out may alias a.
template <typename T>
void binary_scalar(T* out, const T* a, T s, BinaryOp op, int64_t n);

// out[i] = alpha * x[i] + out[i]  (accumulate a scaled array; used for gradient accumulation)
template <typename T>
void axpy(T* out, const T* x, T alpha, int64_t n);

}  // namespace fwp::kernels
