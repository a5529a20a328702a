// Inverted dropout with the counter-based mask on the device: the twin of kernels/cpu/dropout.h
// (same signature, the same mask bit for bit: u_i depends only on (seed, i)). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void dropout_forward_cuda(T* out, const T* inp, int64_t n, double p, uint64_t seed);

}  // namespace fwp::kernels
