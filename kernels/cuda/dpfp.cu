// DPFP-nu on the device (kernels/cuda/dpfp.h). r = relu([x, -x]) (n = 2 Dk entries) is never
// stored: r[a] is read from x when needed.
//   forward: one thread per output, phi[(j-1) n + i] = r[i] r[(i - j) mod n]
//   backward: one thread per input x_i gathers dr at a = i and a = Dk + i from the two product
//     terms that hold r[a]: phi_j[a] = r[a] r[(a - j) mod n] and phi_j[(a + j) mod n] =
//     r[(a + j) mod n] r[a], so
//       dr[a] = sum_j g_j[a] r[(a - j) mod n] + g_j[(a + j) mod n] r[(a + j) mod n];
//     then dx_i = dr[i] (x_i > 0) - dr[Dk + i] (x_i < 0), as the CPU kernel does.
#include "kernels/cuda/check.h"
#include "kernels/cuda/dpfp.h"
#include "kernels/cuda/launch.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

// r[a] of one row x: relu(x_a) for a < Dk, relu(-x_{a - Dk}) above.
template <typename T>
__device__ __forceinline__ T r_at(const T* x, int64_t a, int64_t Dk) {
  const T v = a < Dk ? x[a] : -x[a - Dk];
  return v > T(0) ? v : T(0);
}

template <typename T>
__global__ void forward_kernel(T* phi, const T* x, int64_t N, int64_t Dk, int64_t nu) {
  const int64_t n = 2 * Dk, width = nu * n;
  for (int64_t idx = first_index(); idx < N * width; idx += grid_stride()) {
    const int64_t row = idx / width, c = idx % width, j = c / n + 1, i = c % n;
    const T* xr = x + row * Dk;
    phi[idx] = r_at(xr, i, Dk) * r_at(xr, (i - j + n) % n, Dk);
  }
}

// dr[a] for one row: the two product terms per j that contain r[a].
template <typename T>
__device__ __forceinline__ T dr_at(const T* g, const T* xr, int64_t a, int64_t Dk, int64_t nu) {
  const int64_t n = 2 * Dk;
  T d = 0;
  for (int64_t j = 1; j <= nu; ++j, g += n) {
    const int64_t before = (a - j + n) % n, after = (a + j) % n;
    d += g[a] * r_at(xr, before, Dk) + g[after] * r_at(xr, after, Dk);
  }
  return d;
}

template <typename T>
__global__ void backward_kernel(T* dx, const T* dphi, const T* x, int64_t N, int64_t Dk,
                                int64_t nu) {
  for (int64_t idx = first_index(); idx < N * Dk; idx += grid_stride()) {
    const int64_t row = idx / Dk, i = idx % Dk;
    const T* xr = x + row * Dk;
    const T* g = dphi + row * nu * 2 * Dk;
    const T xi = xr[i];
    dx[idx] = (xi > T(0) ? dr_at(g, xr, i, Dk, nu) : T(0)) -
              (xi < T(0) ? dr_at(g, xr, Dk + i, Dk, nu) : T(0));
  }
}

}  // namespace

template <typename T>
void dpfp_forward_cuda(T* phi, const T* x, int64_t N, int64_t Dk, int64_t nu) {
  if (N * Dk * nu <= 0) return;
  forward_kernel<T><<<blocks_for(N * 2 * Dk * nu), kThreads>>>(phi, x, N, Dk, nu);
  FWP_CUDA_CHECK_LAUNCH("dpfp_forward_cuda");
}

template <typename T>
void dpfp_backward_cuda(T* dx, const T* dphi, const T* x, int64_t N, int64_t Dk, int64_t nu) {
  if (N * Dk <= 0) return;
  backward_kernel<T><<<blocks_for(N * Dk), kThreads>>>(dx, dphi, x, N, Dk, nu);
  FWP_CUDA_CHECK_LAUNCH("dpfp_backward_cuda");
}

template void dpfp_forward_cuda<float>(float*, const float*, int64_t, int64_t, int64_t);
template void dpfp_forward_cuda<double>(double*, const double*, int64_t, int64_t, int64_t);
template void dpfp_backward_cuda<float>(float*, const float*, const float*, int64_t, int64_t,
                                        int64_t);
template void dpfp_backward_cuda<double>(double*, const double*, const double*, int64_t, int64_t,
                                         int64_t);

}  // namespace fwp::kernels
