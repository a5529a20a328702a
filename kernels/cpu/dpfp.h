// DPFP-nu feature map (Schlag, Irie & Schmidhuber 2021), fused: one pass per row, no temporaries.
//   r = relu([x, -x])                      (n = 2 Dk entries, at most Dk of them non-zero)
//   phi[(j-1) n + i] = r[i] * r[(i - j) mod n]      for j = 1..nu   (r times r rolled by j)
// Backward: every product r[a] r[b] sends g * r[b] to r[a] and g * r[a] to r[b]; then
//   dx[i] = dr[i] (x[i] > 0) - dr[Dk + i] (x[i] < 0).
#pragma once
#include <cstdint>

namespace fwp::kernels {

// phi is (N, nu * 2Dk), x is (N, Dk)
template <typename T>
void dpfp_forward(T* phi, const T* x, int64_t N, int64_t Dk, int64_t nu);

// dx is (N, Dk), dphi is (N, nu * 2Dk), x is (N, Dk)
template <typename T>
void dpfp_backward(T* dx, const T* dphi, const T* x, int64_t N, int64_t Dk, int64_t nu);

}  // namespace fwp::kernels
