// Data movement on the device: the twins of kernels/cpu/layout.h (same signatures and
// semantics; data pointers on the device, in_shape and perm on the host, at most
// kLayoutCudaMaxDims dimensions). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

constexpr int kLayoutCudaMaxDims = 8;

template <typename T>
void permute_cuda(T* out, const T* in, const int64_t* in_shape, const int64_t* perm, int ndim);

template <typename T>
void copy_rows_cuda(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
                    int64_t row_len);

template <typename T>
void add_rows_cuda(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
                   int64_t row_len);

}  // namespace fwp::kernels
