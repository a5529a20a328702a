// FAVOR+ positive random features after the projection, on the device: the twins of
// kernels/cpu/favor.h (same signatures and semantics, pointers on the device). Built with
// FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void favor_forward_cuda(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk, int64_t m);

template <typename T>
void favor_backward_cuda(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps, int64_t N,
                         int64_t Dk, int64_t m);

}  // namespace fwp::kernels
