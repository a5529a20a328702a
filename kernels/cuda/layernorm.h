// Layer normalisation over the last dimension on the device: the twins of
// kernels/cpu/layernorm.h (same signatures and semantics, pointers on the device, any of them
// nullptr where the CPU kernel allows it). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void layernorm_forward_cuda(T* out, T* mean, T* rstd, const T* inp, const T* weight,
                            const T* bias, int64_t N, int64_t D, T eps);

template <typename T>
void layernorm_backward_cuda(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                             const T* weight, const T* mean, const T* rstd, int64_t N, int64_t D);

}  // namespace fwp::kernels
