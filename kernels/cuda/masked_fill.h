// masked_fill on the device: the twin of kernels/cpu/masked_fill.h (same signature and
// semantics; data pointers on the device, shape and mask_strides on the host, at most
// kMaskedFillCudaMaxDims dimensions). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

constexpr int kMaskedFillCudaMaxDims = 8;

template <typename T>
void masked_fill_forward_cuda(T* out, const T* inp, const T* mask, T value, const int64_t* shape,
                              const int64_t* mask_strides, int ndim);

}  // namespace fwp::kernels
