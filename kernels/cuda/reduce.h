// Sums along one dimension on the device: the twin of kernels/cpu/reduce.h (same signature and
// semantics, pointers on the device). Built with FWP_CUDA.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out[o, i] = sum_j in[o, j, i]; out is (outer, inner), in is (outer, n, inner).
template <typename T>
void sum_dim_cuda(T* out, const T* in, int64_t outer, int64_t n, int64_t inner);

}  // namespace fwp::kernels
