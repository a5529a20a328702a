// Dropout on the device (kernels/cuda/dropout.h): one thread per element, the hash of
// kernels/cpu/dropout.cpp (splitmix64's output function on the seed's Weyl sequence), so a CPU
// and a GPU run drop the same elements.
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/launch.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

__device__ __forceinline__ uint64_t hash(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void dropout_kernel(T* out, const T* inp, int64_t n, uint64_t threshold, T scale,
                               uint64_t seed) {
  for (int64_t i = first_index(); i < n; i += grid_stride())
    out[i] = (hash(seed, uint64_t(i)) >> 11) >= threshold ? inp[i] * scale : T(0);
}

}  // namespace

template <typename T>
void dropout_forward_cuda(T* out, const T* inp, int64_t n, double p, uint64_t seed) {
  if (n <= 0) return;
  const uint64_t threshold = static_cast<uint64_t>(std::ceil(p * 9007199254740992.0));  // p 2^53
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  dropout_kernel<T><<<blocks_for(n), kThreads>>>(out, inp, n, threshold, scale, seed);
  FWP_CUDA_CHECK_LAUNCH("dropout_forward_cuda");
}

template void dropout_forward_cuda<float>(float*, const float*, int64_t, double, uint64_t);
template void dropout_forward_cuda<double>(double*, const double*, int64_t, double, uint64_t);

}  // namespace fwp::kernels
