// Softmax and log-softmax on the device (kernels/cuda/softmax.h): one warp per row, the passes
// of kernels/cpu/softmax.cpp (max, sum of exponentials, normalise), each lane on its own columns,
// so an aliased out/inp pair is read before it is written by the same lane.
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_math.h"
#include "kernels/cuda/softmax.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;
using namespace cuda_rows;

template <typename T, bool Log>
__global__ void forward_kernel(T* out, const T* inp, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const T* x = inp + r * cols;
    T* y = out + r * cols;
    const T m = row_max(x, cols, lane);
    if (m == -T(INFINITY)) {  // fully masked row: softmax 0, log_softmax -inf, by contract
      for (int64_t j = lane; j < cols; j += 32) y[j] = Log ? m : T(0);
      continue;
    }
    const T s = row_sum_exp(x, m, cols, lane);
    if (Log) {
      const T lse = m + log(s);
      for (int64_t j = lane; j < cols; j += 32) y[j] = x[j] - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t j = lane; j < cols; j += 32) y[j] = exp_shifted(x[j], m) * inv;
    }
  }
}

template <typename T, bool Log>
__global__ void backward_kernel(T* dinp, const T* dout, const T* out, int64_t rows,
                                int64_t cols) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const T* g = dout + r * cols;
    const T* y = out + r * cols;
    T* dx = dinp + r * cols;
    T s = 0;  // softmax: sum_k g_k y_k; log_softmax: sum_k g_k
    for (int64_t j = lane; j < cols; j += 32) s += Log ? g[j] : g[j] * y[j];
    s = warp_sum(s);
    for (int64_t j = lane; j < cols; j += 32)
      dx[j] = Log ? g[j] - exp_shifted(y[j], T(0)) * s : y[j] * (g[j] - s);
  }
}

template <typename T, bool Log>
void forward(const char* op, T* out, const T* inp, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  forward_kernel<T, Log><<<row_blocks_for(rows), 32 * kRowWarps>>>(out, inp, rows, cols);
  FWP_CUDA_CHECK_LAUNCH(op);
}

template <typename T, bool Log>
void backward(const char* op, T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  backward_kernel<T, Log><<<row_blocks_for(rows), 32 * kRowWarps>>>(dinp, dout, out, rows, cols);
  FWP_CUDA_CHECK_LAUNCH(op);
}

}  // namespace

template <typename T>
void softmax_forward_cuda(T* out, const T* inp, int64_t rows, int64_t cols) {
  forward<T, false>("softmax_forward_cuda", out, inp, rows, cols);
}
template <typename T>
void softmax_backward_cuda(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
  backward<T, false>("softmax_backward_cuda", dinp, dout, out, rows, cols);
}
template <typename T>
void log_softmax_forward_cuda(T* out, const T* inp, int64_t rows, int64_t cols) {
  forward<T, true>("log_softmax_forward_cuda", out, inp, rows, cols);
}
template <typename T>
void log_softmax_backward_cuda(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
  backward<T, true>("log_softmax_backward_cuda", dinp, dout, out, rows, cols);
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void softmax_forward_cuda<T>(T*, const T*, int64_t, int64_t);                    \
  template void softmax_backward_cuda<T>(T*, const T*, const T*, int64_t, int64_t);         \
  template void log_softmax_forward_cuda<T>(T*, const T*, int64_t, int64_t);                \
  template void log_softmax_backward_cuda<T>(T*, const T*, const T*, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
