// Fused softmax attention on the GPU: the twins of softmax_attention_forward_cpu /
// softmax_attention_backward_cpu (kernels/softmax_attention.h has the math and the mask rules).
// Flash-style: the T x S probabilities never exist. One warp per query row (forward, dq) or key
// row (dk, dv); each lane holds KPL columns of q or k and VPL of the value-sized accumulators in
// registers, both ceil(max(Dk, Dv) / 32) (Dk, Dv <= 256); dot products are warp reductions.
// The forward keeps the running maximum and sum of an online softmax and rescales its
// accumulator when the maximum grows. The backward: kernel 1, per query i, writes
// D_i = g_i . y_i to the workspace and dq_i = scale sum_j p_ij (g_i . v_j - D_i) k_j; kernel 2,
// per key j, dv_j = sum_i p_ij g_i and dk_j = scale sum_i p_ij (g_i . v_j - D_i) q_i, both
// recomputing p_ij = exp(scale q_i . k_j - lse_i). Which (i, j) pairs count depends on the warp's
// row only, so every branch around a shuffle is warp-uniform; there are no barriers.
#include <cmath>
#include <type_traits>

#include "kernels/cuda/check.h"
#include "kernels/cuda/warp_rows.h"
#include "kernels/softmax_attention.h"

namespace fwp::kernels {

namespace {

using namespace cuda_rows;  // warp_sum, load_cols, row_dot, kWarps (kernels/cuda/warp_rows.h)

constexpr int64_t kMaxWidth = 256;

__device__ __forceinline__ float exp_of(float x) { return expf(x); }
__device__ __forceinline__ double exp_of(double x) { return exp(x); }
__device__ __forceinline__ float log_of(float x) { return logf(x); }
__device__ __forceinline__ double log_of(double x) { return log(x); }

// The mask of kernels/softmax_attention.h, on the device (keep is a device pointer).
template <typename Real>
struct DeviceMask {
  bool causal;
  int64_t offset;
  const Real* keep;
  int64_t H;
  __device__ bool sees(int64_t n, int64_t i, int64_t j, int64_t S) const {
    if (causal && j > offset + i) return false;
    return keep == nullptr || keep[(n / H) * S + j] != Real(0);
  }
};

template <typename Real, int N>
__device__ __forceinline__ void load(Real (&out)[N], const Real* row, int64_t D, int lane) {
#pragma unroll
  for (int c = 0; c < N; ++c) {
    const int64_t j = lane + 32 * c;
    out[c] = j < D ? row[j] : Real(0);
  }
}

template <typename Real, int N>
__device__ __forceinline__ Real dot(const Real (&a)[N], const Real* row, int64_t D, int lane) {
  Real part = 0;
#pragma unroll
  for (int c = 0; c < N; ++c) {
    const int64_t j = lane + 32 * c;
    if (j < D) part += a[c] * row[j];
  }
  return warp_sum(part);
}

template <typename Real, int KPL, int VPL>
__global__ void __launch_bounds__(kWarps * 32)
    attention_forward_kernel(Real* y, Real* lse, const Real* q, const Real* k, const Real* v,
                             DeviceMask<Real> mask, Real scale, int64_t T, int64_t S, int64_t Dk,
                             int64_t Dv) {
  const int lane = threadIdx.x % 32;
  const int64_t n = blockIdx.y, i = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (i >= T) return;  // the whole warp leaves together
  Real qi[KPL], acc[VPL];
  load<Real, KPL>(qi, q + (n * T + i) * Dk, Dk, lane);
#pragma unroll
  for (int c = 0; c < VPL; ++c) acc[c] = Real(0);
  Real mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < S; ++j) {
    if (!mask.sees(n, i, j, S)) continue;  // warp-uniform
    const Real s = scale * dot<Real, KPL>(qi, k + (n * S + j) * Dk, Dk, lane);
    const Real m_new = s > mx ? s : mx;
    // the first key: nothing to rescale (and no exp(-inf): an emulator's f64 exp gave NaN there)
    const Real corr = mx == Real(-INFINITY) ? Real(0) : exp_of(mx - m_new);
    const Real p = exp_of(s - m_new);
    sum = sum * corr + p;
    const Real* vj = v + (n * S + j) * Dv;
#pragma unroll
    for (int c = 0; c < VPL; ++c) {
      const int64_t e = lane + 32 * c;
      acc[c] = acc[c] * corr + (e < Dv ? p * vj[e] : Real(0));
    }
    mx = m_new;
  }
  const bool none = sum == Real(0);
#pragma unroll
  for (int c = 0; c < VPL; ++c) {
    const int64_t e = lane + 32 * c;
    if (e < Dv) y[(n * T + i) * Dv + e] = none ? Real(0) : acc[c] / sum;
  }
  if (lane == 0) lse[n * T + i] = none ? Real(-INFINITY) : mx + log_of(sum);
}

// Per query i: D_i (to the workspace) and dq_i.
template <typename Real, int KPL, int VPL>
__global__ void __launch_bounds__(kWarps * 32)
    attention_dq_kernel(Real* dq, Real* Dws, const Real* grad_y, const Real* q, const Real* k,
                        const Real* v, const Real* y, const Real* lse, DeviceMask<Real> mask,
                        Real scale, int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  const int lane = threadIdx.x % 32;
  const int64_t n = blockIdx.y, i = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (i >= T) return;
  const int64_t row = n * T + i;
  Real qi[KPL], gi[VPL], acc[KPL];
  load<Real, KPL>(qi, q + row * Dk, Dk, lane);
  load<Real, VPL>(gi, grad_y + row * Dv, Dv, lane);
  const Real D = dot<Real, VPL>(gi, y + row * Dv, Dv, lane);
  if (lane == 0) Dws[row] = D;
#pragma unroll
  for (int c = 0; c < KPL; ++c) acc[c] = Real(0);
  const Real L = lse[row];
  for (int64_t j = 0; j < S; ++j) {
    if (!mask.sees(n, i, j, S)) continue;  // warp-uniform
    const Real* kj = k + (n * S + j) * Dk;
    const Real p = exp_of(scale * dot<Real, KPL>(qi, kj, Dk, lane) - L);
    const Real ds = p * (dot<Real, VPL>(gi, v + (n * S + j) * Dv, Dv, lane) - D);
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t e = lane + 32 * c;
      if (e < Dk) acc[c] += ds * kj[e];
    }
  }
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t e = lane + 32 * c;
    if (e < Dk) dq[row * Dk + e] = scale * acc[c];
  }
}

// Per key j: dk_j and dv_j (D from the dq kernel).
template <typename Real, int KPL, int VPL>
__global__ void __launch_bounds__(kWarps * 32)
    attention_dkdv_kernel(Real* dk, Real* dv, const Real* Dws, const Real* grad_y, const Real* q,
                          const Real* k, const Real* v, const Real* lse, DeviceMask<Real> mask,
                          Real scale, int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  const int lane = threadIdx.x % 32;
  const int64_t n = blockIdx.y, j = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (j >= S) return;
  Real kj[KPL], vj[VPL], ak[KPL], av[VPL];
  load<Real, KPL>(kj, k + (n * S + j) * Dk, Dk, lane);
  load<Real, VPL>(vj, v + (n * S + j) * Dv, Dv, lane);
#pragma unroll
  for (int c = 0; c < KPL; ++c) ak[c] = Real(0);
#pragma unroll
  for (int c = 0; c < VPL; ++c) av[c] = Real(0);
  for (int64_t i = 0; i < T; ++i) {
    if (!mask.sees(n, i, j, S)) continue;  // warp-uniform
    const int64_t row = n * T + i;
    const Real* qi = q + row * Dk;
    const Real* gi = grad_y + row * Dv;
    const Real p = exp_of(scale * dot<Real, KPL>(kj, qi, Dk, lane) - lse[row]);
    const Real ds = p * (dot<Real, VPL>(vj, gi, Dv, lane) - Dws[row]);
#pragma unroll
    for (int c = 0; c < VPL; ++c) {
      const int64_t e = lane + 32 * c;
      if (e < Dv) av[c] += p * gi[e];
    }
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t e = lane + 32 * c;
      if (e < Dk) ak[c] += ds * qi[e];
    }
  }
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t e = lane + 32 * c;
    if (e < Dk) dk[(n * S + j) * Dk + e] = scale * ak[c];
  }
#pragma unroll
  for (int c = 0; c < VPL; ++c) {
    const int64_t e = lane + 32 * c;
    if (e < Dv) dv[(n * S + j) * Dv + e] = av[c];
  }
}

int per_lane(int64_t D) { return D <= 32 ? 1 : D <= 64 ? 2 : D <= 128 ? 4 : 8; }

template <typename Real>
DeviceMask<Real> device_mask(const AttentionMask<Real>& m) {
  return DeviceMask<Real>{m.causal, m.offset, m.keep, m.H < 1 ? 1 : m.H};
}

void check_sizes(const char* op, int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  FWP_CHECK(Dk >= 1 && Dk <= kMaxWidth && Dv >= 1 && Dv <= kMaxWidth && BH >= 0 && T >= 0 &&
                S >= 0 && BH <= 65535,
            op, ": needs 1 <= Dk, Dv <= ", kMaxWidth, " and BH <= 65535, got BH=", BH, ", T=", T,
            ", S=", S, ", Dk=", Dk, ", Dv=", Dv);
}

// Calls fn(PL, PL) with PL = per_lane(max(Dk, Dv)) as a compile-time constant: one register
// count for both widths keeps the instantiations (and the compile time) at 4 per kernel and type.
template <typename Fn>
void dispatch_widths(int64_t Dk, int64_t Dv, Fn&& fn) {
  switch (per_lane(Dk > Dv ? Dk : Dv)) {
    case 1: fn(std::integral_constant<int, 1>{}, std::integral_constant<int, 1>{}); break;
    case 2: fn(std::integral_constant<int, 2>{}, std::integral_constant<int, 2>{}); break;
    case 4: fn(std::integral_constant<int, 4>{}, std::integral_constant<int, 4>{}); break;
    default: fn(std::integral_constant<int, 8>{}, std::integral_constant<int, 8>{}); break;
  }
}

}  // namespace

template <typename Real>
int64_t softmax_attention_workspace_size_cuda(int64_t BH, int64_t T, int64_t /*S*/,
                                              int64_t /*Dk*/, int64_t /*Dv*/) {
  return BH * T;
}

template <typename Real>
void softmax_attention_forward_cuda(Real* y, Real* lse, const Real* q, const Real* k,
                                    const Real* v, const AttentionMask<Real>& mask, Real scale,
                                    int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                    Real* /*workspace*/) {
  check_sizes("softmax_attention_forward_cuda", BH, T, S, Dk, Dv);
  if (BH == 0 || T == 0) return;
  const dim3 grid(static_cast<unsigned>((T + kWarps - 1) / kWarps), static_cast<unsigned>(BH));
  const DeviceMask<Real> m = device_mask(mask);
  dispatch_widths(Dk, Dv, [&](auto kpl, auto vpl) {
    attention_forward_kernel<Real, decltype(kpl)::value, decltype(vpl)::value>
        <<<grid, kWarps * 32>>>(y, lse, q, k, v, m, scale, T, S, Dk, Dv);
  });
  FWP_CUDA_CHECK_LAUNCH("softmax_attention_forward_cuda");
}

template <typename Real>
void softmax_attention_backward_cuda(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                     const Real* q, const Real* k, const Real* v, const Real* y,
                                     const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                     int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                     Real* workspace) {
  check_sizes("softmax_attention_backward_cuda", BH, T, S, Dk, Dv);
  if (BH == 0) return;
  const DeviceMask<Real> m = device_mask(mask);
  if (T > 0) {
    const dim3 grid(static_cast<unsigned>((T + kWarps - 1) / kWarps), static_cast<unsigned>(BH));
    dispatch_widths(Dk, Dv, [&](auto kpl, auto vpl) {
      attention_dq_kernel<Real, decltype(kpl)::value, decltype(vpl)::value>
          <<<grid, kWarps * 32>>>(dq, workspace, grad_y, q, k, v, y, lse, m, scale, T, S, Dk,
                                  Dv);
    });
    FWP_CUDA_CHECK_LAUNCH("softmax_attention_backward_cuda (dq)");
  }
  if (S > 0) {
    const dim3 grid(static_cast<unsigned>((S + kWarps - 1) / kWarps), static_cast<unsigned>(BH));
    dispatch_widths(Dk, Dv, [&](auto kpl, auto vpl) {
      attention_dkdv_kernel<Real, decltype(kpl)::value, decltype(vpl)::value>
          <<<grid, kWarps * 32>>>(dk, dv, workspace, grad_y, q, k, v, lse, m, scale, T, S, Dk,
                                  Dv);
    });
    FWP_CUDA_CHECK_LAUNCH("softmax_attention_backward_cuda (dk, dv)");
  }
}

#define FWP_INSTANTIATE(R)                                                                      \
  template int64_t softmax_attention_workspace_size_cuda<R>(int64_t, int64_t, int64_t, int64_t, \
                                                            int64_t);                           \
  template void softmax_attention_forward_cuda<R>(R*, R*, const R*, const R*, const R*,         \
                                                  const AttentionMask<R>&, R, int64_t, int64_t, \
                                                  int64_t, int64_t, int64_t, R*);               \
  template void softmax_attention_backward_cuda<R>(                                            \
      R*, R*, R*, const R*, const R*, const R*, const R*, const R*, const R*,                  \
      const AttentionMask<R>&, R, int64_t, int64_t, int64_t, int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
