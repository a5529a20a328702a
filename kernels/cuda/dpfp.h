// The DPFP-nu feature map on the device: the twins of kernels/cpu/dpfp.h (same signatures and
// semantics, pointers on the device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void dpfp_forward_cuda(T* phi, const T* x, int64_t N, int64_t Dk, int64_t nu);

template <typename T>
void dpfp_backward_cuda(T* dx, const T* dphi, const T* x, int64_t N, int64_t Dk, int64_t nu);

}  // namespace fwp::kernels
