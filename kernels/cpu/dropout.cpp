// Dropout kernels. keep_i compares the top 53 bits of hash(seed, i) with p * 2^53 as integers,
// which is u_i >= p exactly (threshold ceil(p 2^53)), and scales survivors by 1 / (1 - p).
#include "kernels/cpu/dropout.h"

#include <cmath>

namespace fwp::kernels {

namespace {

// splitmix64's output function applied to the i-th element of the seed's Weyl sequence
inline uint64_t hash(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr double kTwo53 = 9007199254740992.0;  // 2^53

}  // namespace

template <typename T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed) {
  const uint64_t threshold = static_cast<uint64_t>(std::ceil(p * kTwo53));  // p * 2^53 is exact
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536)
  for (int64_t i = 0; i < n; ++i)
    out[i] = (hash(seed, i) >> 11) >= threshold ? inp[i] * scale : T(0);
}

template <typename T>
void dropout_forward_naive(T* out, const T* inp, int64_t n, double p, uint64_t seed) {
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(hash(seed, i) >> 11) / kTwo53;
    out[i] = u >= p ? static_cast<T>(inp[i] / (1.0 - p)) : T(0);
  }
}

#define FWP_INSTANTIATE(T)                                                   \
  template void dropout_forward<T>(T*, const T*, int64_t, double, uint64_t); \
  template void dropout_forward_naive<T>(T*, const T*, int64_t, double, uint64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
