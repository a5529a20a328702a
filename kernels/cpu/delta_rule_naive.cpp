// The naive twins of the delta rule kernels (kernels/delta_rule.h): the math as plain loops, the reference
// that tests hold the fast kernels (delta_rule_cpu.cpp) against.
#include <vector>

#include "kernels/delta_rule.h"
#include "kernels/cpu/naive_loops.h"

namespace fwp::kernels {

template <typename Real>
void delta_rule_forward_naive(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                              const Real* v, const Real* beta, const Real* W0, int64_t BH,
                              int64_t T, int64_t Dk, int64_t Dv) {
  std::vector<Real> vbar(Dv);
  for (int64_t n = 0; n < BH; ++n) {
    Real* W = WT + n * Dv * Dk;
    for (int64_t e = 0; e < Dv * Dk; ++e) W[e] = W0 ? W0[n * Dv * Dk + e] : Real(0);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = n * T + t;  // row of step t in the (BH * T, .) inputs
      const Real* kt = k + r * Dk;
      for (int64_t i = 0; i < Dv; ++i) vbar[i] = plain_dot(W + i * Dk, kt, Dk);  // vbar = W k
      for (int64_t i = 0; i < Dv; ++i) {  // u = beta (v - vbar);  W += u k^T
        const Real diff = v[r * Dv + i] - vbar[i], ui = beta[r] * diff;
        if (d) d[r * Dv + i] = diff;
        for (int64_t j = 0; j < Dk; ++j) W[i * Dk + j] += ui * kt[j];
      }
      for (int64_t i = 0; i < Dv; ++i)  // y = W q
        y[r * Dv + i] = plain_dot(W + i * Dk, q + r * Dk, Dk);
    }
  }
}

template <typename Real>
void delta_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                               const Real* grad_y, const Real* grad_WT, const Real* q,
                               const Real* k, const Real* beta, const Real* d, const Real* WT,
                               int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  std::vector<Real> W(Dv * Dk), a(Dv), ut(Dv), zeros(Dv, Real(0));
  for (int64_t n = 0; n < BH; ++n) {
    Real* A = dW0 + n * Dv * Dk;
    for (int64_t e = 0; e < Dv * Dk; ++e) {
      W[e] = WT[n * Dv * Dk + e];
      A[e] = grad_WT ? grad_WT[n * Dv * Dk + e] : Real(0);
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t r = n * T + t;
      const Real* qt = q + r * Dk;
      const Real* kt = k + r * Dk;
      const Real* g = grad_y ? grad_y + r * Dv : zeros.data();  // no gradient on y: g = 0
      const Real b = beta[r];
      for (int64_t i = 0; i < Dv; ++i) ut[i] = b * d[r * Dv + i];  // u = beta (v - vbar)
      for (int64_t i = 0; i < Dv; ++i)  // A += g q^T   (A = dL/dW_t)
        for (int64_t j = 0; j < Dk; ++j) A[i * Dk + j] += g[i] * qt[j];
      for (int64_t j = 0; j < Dk; ++j) {  // dq = W_t^T g;  dk = A^T u
        dq[r * Dk + j] = dk[r * Dk + j] = 0;
        for (int64_t i = 0; i < Dv; ++i) {
          dq[r * Dk + j] += W[i * Dk + j] * g[i];
          dk[r * Dk + j] += A[i * Dk + j] * ut[i];
        }
      }
      dbeta[r] = 0;
      for (int64_t i = 0; i < Dv; ++i) {  // a = A k;  dv = beta a;  dbeta = a . (v - vbar)
        a[i] = plain_dot(A + i * Dk, kt, Dk);
        dv[r * Dv + i] = b * a[i];
        dbeta[r] += a[i] * d[r * Dv + i];
      }
      for (int64_t i = 0; i < Dv; ++i)  // W -= u k^T   (W = W_{t-1})
        for (int64_t j = 0; j < Dk; ++j) W[i * Dk + j] -= ut[i] * kt[j];
      for (int64_t j = 0; j < Dk; ++j)  // dk -= beta W_{t-1}^T a
        for (int64_t i = 0; i < Dv; ++i) dk[r * Dk + j] -= b * W[i * Dk + j] * a[i];
      for (int64_t i = 0; i < Dv; ++i)  // A -= beta a k^T   (A = dL/dW_{t-1})
        for (int64_t j = 0; j < Dk; ++j) A[i * Dk + j] -= b * a[i] * kt[j];
    }
  }
}

#define FWP_INSTANTIATE(R) \
  template void delta_rule_forward_naive<R>(R*, R*, R*, const R*, const R*, const R*,           \
                                            const R*, const R*, int64_t, int64_t, int64_t,      \
                                            int64_t);                                           \
  template void delta_rule_backward_naive<R>(R*, R*, R*, R*, R*, const R*, const R*,            \
                                             const R*, const R*, const R*, const R*,            \
                                             const R*, int64_t, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
