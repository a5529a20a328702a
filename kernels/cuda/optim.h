// Fused optimizer updates on the device: the twins of kernels/cpu/optim.h (same signatures and
// formulas, in place, pointers on the device). Built with FWP_CUDA.
// The global gradient norm differs in shape only: so that a clipped step needs no value on the
// host, sum_squares_cuda ADDS its sum into a double in device memory, and scale_by_norm_cuda
// reads the total there (one small launch per tensor, no copy back).
#pragma once
#include <cstdint>

#include "kernels/cpu/optim.h"

namespace fwp::kernels {

template <typename T>
void adam_update_cuda(T* param, T* m, T* v, const T* grad, int64_t n, const AdamStepParams& s);

template <typename T>
void sgd_update_cuda(T* param, T* buf, const T* grad, int64_t n, double lr, double momentum,
                     double weight_decay);

// *total += sum_i x_i^2, accumulated in double; total is one double on the device.
template <typename T>
void sum_squares_cuda(double* total, const T* x, int64_t n);

// x *= max_norm / (sqrt(*total) + 1e-6) where that factor is below 1 (clip_grad_norm_'s rule);
// total is the device double filled by sum_squares_cuda.
template <typename T>
void scale_by_norm_cuda(T* x, int64_t n, const double* total, double max_norm);

}  // namespace fwp::kernels
