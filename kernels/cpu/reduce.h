// Sums along one dimension. A tensor viewed as (outer, n, inner) is reduced over n:
//   out[o, i] = sum_j in[o, j, i]      out is (outer, inner), in is (outer, n, inner)
#pragma once
#include <cstdint>

namespace fwp::kernels {

template <typename T>
void sum_dim(T* out, const T* in, int64_t outer, int64_t n, int64_t inner);

template <typename T>
void sum_dim_naive(T* out, const T* in, int64_t outer, int64_t n, int64_t inner);

}  // namespace fwp::kernels
