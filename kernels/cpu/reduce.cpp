// sum_dim: inner == 1 is a row sum (accumulated in double, so long f32 rows stay accurate);
// inner > 1 adds whole rows of `inner` contiguous values (the bias-gradient pattern).
#include "kernels/cpu/reduce.h"

#include <algorithm>

namespace fwp::kernels {

template <typename T>
void sum_dim(T* out, const T* in, int64_t outer, int64_t n, int64_t inner) {
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * n > 32768 && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = in + o * n;
      double acc = 0.0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < n; ++j) acc += row[j];
      out[o] = static_cast<T>(acc);
    }
    return;
  }
  // Split the work over (outer, blocks of inner) so a single big reduction still uses all cores.
  const int64_t block = 256;
  const int64_t nblocks = (inner + block - 1) / block;
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t bi = 0; bi < nblocks; ++bi) {
      int64_t i0 = bi * block, i1 = std::min(inner, i0 + block);
      T* dst = out + o * inner;
      for (int64_t i = i0; i < i1; ++i) dst[i] = T(0);
      for (int64_t j = 0; j < n; ++j) {
        const T* src = in + (o * n + j) * inner;
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) dst[i] += src[i];
      }
    }
  }
}

template <typename T>
void sum_dim_naive(T* out, const T* in, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double acc = 0.0;
      for (int64_t j = 0; j < n; ++j) acc += in[(o * n + j) * inner + i];
      out[o * inner + i] = static_cast<T>(acc);
    }
}

template void sum_dim<float>(float*, const float*, int64_t, int64_t, int64_t);
template void sum_dim<double>(double*, const double*, int64_t, int64_t, int64_t);
template void sum_dim_naive<float>(float*, const float*, int64_t, int64_t, int64_t);
template void sum_dim_naive<double>(double*, const double*, int64_t, int64_t, int64_t);

}  // namespace fwp::kernels
