// Cross-entropy on the device (kernels/cuda/cross_entropy.h): one warp per row, the passes of
// kernels/cpu/cross_entropy.cpp. The backward writes each dlogit once, the one-hot term folded
// into the target's own column, so no two lanes touch one element.
#include "kernels/cuda/check.h"
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_math.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;
using namespace cuda_rows;

template <typename T>
__global__ void forward_kernel(T* losses, T* lse, const T* logits, const int64_t* targets,
                               int64_t N, int64_t V, int64_t ignore_index) {
  const int lane = threadIdx.x % 32;
  for (int64_t n = first_row(); n < N; n += row_stride()) {
    const int64_t t = targets[n];
    if (t == ignore_index) {
      if (lane == 0) losses[n] = lse[n] = T(0);
      continue;
    }
    const T* x = logits + n * V;
    const T m = row_max(x, V, lane);
    if (m == -T(INFINITY)) {  // no distribution: loss +inf, nothing to learn from
      if (lane == 0) {
        losses[n] = T(INFINITY);
        lse[n] = m;
      }
      continue;
    }
    const T l = m + log(row_sum_exp(x, m, V, lane));
    if (lane == 0) {
      lse[n] = l;
      losses[n] = l - x[t];
    }
  }
}

template <typename T>
__global__ void backward_kernel(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                                const int64_t* targets, int64_t N, int64_t V,
                                int64_t ignore_index) {
  const int lane = threadIdx.x % 32;
  for (int64_t n = first_row(); n < N; n += row_stride()) {
    const int64_t t = targets[n];
    T* dx = dlogits + n * V;
    const bool skip = t == ignore_index || lse[n] == -T(INFINITY);
    const T g = skip ? T(0) : dlosses[n], l = skip ? T(0) : lse[n];
    const T* x = logits + n * V;
    for (int64_t v = lane; v < V; v += 32)
      dx[v] = skip ? T(0) : g * exp_shifted(x[v], l) - (v == t ? g : T(0));
  }
}

}  // namespace

template <typename T>
void cross_entropy_forward_cuda(T* losses, T* lse, const T* logits, const int64_t* targets,
                                int64_t N, int64_t V, int64_t ignore_index) {
  if (N <= 0) return;
  forward_kernel<T><<<row_blocks_for(N), 32 * kRowWarps>>>(losses, lse, logits, targets, N, V,
                                                           ignore_index);
  FWP_CUDA_CHECK_LAUNCH("cross_entropy_forward_cuda");
}

template <typename T>
void cross_entropy_backward_cuda(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                                 const int64_t* targets, int64_t N, int64_t V,
                                 int64_t ignore_index) {
  if (N <= 0) return;
  backward_kernel<T><<<row_blocks_for(N), 32 * kRowWarps>>>(dlogits, dlosses, logits, lse,
                                                            targets, N, V, ignore_index);
  FWP_CUDA_CHECK_LAUNCH("cross_entropy_backward_cuda");
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void cross_entropy_forward_cuda<T>(T*, T*, const T*, const int64_t*, int64_t,    \
                                              int64_t, int64_t);                            \
  template void cross_entropy_backward_cuda<T>(T*, const T*, const T*, const T*,            \
                                               const int64_t*, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
