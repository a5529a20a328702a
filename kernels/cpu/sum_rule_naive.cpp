// The naive twins of the sum rule kernels (kernels/sum_rule.h): the math as plain loops, the reference
// that tests hold the fast kernels (sum_rule_cpu.cpp) against.
#include <vector>

#include "kernels/sum_rule.h"
#include "kernels/cpu/naive_loops.h"

namespace fwp::kernels {

template <typename Real>
void sum_rule_forward_naive(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                            const Real* v, const Real* W0, const Real* z0, bool normalize,
                            Real eps, int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  for (int64_t n = 0; n < BH; ++n) {
    Real* W = WT + n * Dv * Dk;
    Real* z = zT + n * Dk;
    for (int64_t e = 0; e < Dv * Dk; ++e) W[e] = W0 ? W0[n * Dv * Dk + e] : Real(0);
    for (int64_t j = 0; j < Dk; ++j) z[j] = z0 ? z0[n * Dk + j] : Real(0);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = n * T + t;
      for (int64_t i = 0; i < Dv; ++i)  // W += v k^T
        for (int64_t j = 0; j < Dk; ++j) W[i * Dk + j] += v[r * Dv + i] * k[r * Dk + j];
      for (int64_t j = 0; j < Dk; ++j) z[j] += k[r * Dk + j];  // z += k
      const Real dn = normalize ? plain_dot(z, q + r * Dk, Dk) + eps : Real(1);
      if (normalize && den) den[r] = dn;
      for (int64_t i = 0; i < Dv; ++i) y[r * Dv + i] = plain_dot(W + i * Dk, q + r * Dk, Dk) / dn;
    }
  }
}

template <typename Real>
void sum_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                             const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                             const Real* q, const Real* k, const Real* v, const Real* W0,
                             const Real* z0, const Real* y, const Real* den, bool normalize,
                             int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  std::vector<Real> W(Dv * Dk), z(Dk), gh(Dv);
  for (int64_t n = 0; n < BH; ++n) {
    Real* A = dW0 + n * Dv * Dk;
    Real* Z = dz0 + n * Dk;
    auto scaled = [&](int64_t r) {  // gh = g / den and c = -(g . y) / den for row r
      const Real dn = normalize ? den[r] : Real(1);
      for (int64_t i = 0; i < Dv; ++i) gh[i] = grad_y[r * Dv + i] / dn;
      return normalize ? -plain_dot(grad_y + r * Dv, y + r * Dv, Dv) / dn : Real(0);
    };
    for (int64_t e = 0; e < Dv * Dk; ++e) W[e] = W0 ? W0[n * Dv * Dk + e] : Real(0);
    for (int64_t j = 0; j < Dk; ++j) z[j] = z0 ? z0[n * Dk + j] : Real(0);
    for (int64_t t = 0; t < T; ++t) {  // forwards: dq = W_t^T gh + c z_t
      const int64_t r = n * T + t;
      const Real c = scaled(r);
      for (int64_t i = 0; i < Dv; ++i)
        for (int64_t j = 0; j < Dk; ++j) W[i * Dk + j] += v[r * Dv + i] * k[r * Dk + j];
      for (int64_t j = 0; j < Dk; ++j) {
        z[j] += k[r * Dk + j];
        dq[r * Dk + j] = c * z[j];
        for (int64_t i = 0; i < Dv; ++i) dq[r * Dk + j] += W[i * Dk + j] * gh[i];
      }
    }
    for (int64_t e = 0; e < Dv * Dk; ++e) A[e] = grad_WT ? grad_WT[n * Dv * Dk + e] : Real(0);
    for (int64_t j = 0; j < Dk; ++j) Z[j] = grad_zT ? grad_zT[n * Dk + j] : Real(0);
    for (int64_t t = T - 1; t >= 0; --t) {  // backwards: A += gh q^T; dk = A^T v + Z; dv = A k
      const int64_t r = n * T + t;
      const Real c = scaled(r);
      for (int64_t i = 0; i < Dv; ++i)
        for (int64_t j = 0; j < Dk; ++j) A[i * Dk + j] += gh[i] * q[r * Dk + j];
      for (int64_t j = 0; j < Dk; ++j) {
        Z[j] += c * q[r * Dk + j];
        dk[r * Dk + j] = Z[j];
        for (int64_t i = 0; i < Dv; ++i) dk[r * Dk + j] += A[i * Dk + j] * v[r * Dv + i];
      }
      for (int64_t i = 0; i < Dv; ++i) dv[r * Dv + i] = plain_dot(A + i * Dk, k + r * Dk, Dk);
    }
  }
}

#define FWP_INSTANTIATE(R) \
  template void sum_rule_forward_naive<R>(R*, R*, R*, R*, const R*, const R*, const R*,         \
                                          const R*, const R*, bool, R, int64_t, int64_t,        \
                                          int64_t, int64_t);                                    \
  template void sum_rule_backward_naive<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,    \
                                           const R*, const R*, const R*, const R*, const R*,    \
                                           const R*, const R*, bool, int64_t, int64_t,          \
                                           int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
