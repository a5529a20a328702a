// The naive twins of the FWM-rule kernels (kernels/fwm_rule.h): the math as plain loops over W
// in its own orientation (Dv rows of Dk), dividing by the norm as written. The backward keeps
// every W_t of a sequence (T + 1 states) instead of checkpoints. Tests compare the fast kernels
// (kernels/cpu/fwm_rule_cpu.cpp) against these.
#include <cmath>
#include <vector>

#include "kernels/cpu/naive_loops.h"
#include "kernels/fwm_rule.h"

namespace fwp::kernels {

template <typename Real>
void fwm_rule_forward_naive(Real* y, Real* WT, const Real* q, const Real* k, const Real* v,
                            const Real* beta, const Real* W0, bool clamp_first_step, int64_t BH,
                            int64_t T, int64_t Dk, int64_t Dv) {
  std::vector<Real> vbar(Dv);
  for (int64_t n = 0; n < BH; ++n) {
    Real* W = WT + n * Dv * Dk;
    for (int64_t e = 0; e < Dv * Dk; ++e) W[e] = W0 ? W0[n * Dv * Dk + e] : Real(0);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = n * T + t;  // row of step t in the (BH * T, .) inputs
      const Real* kt = k + r * Dk;
      for (int64_t i = 0; i < Dv; ++i) vbar[i] = plain_dot(W + i * Dk, kt, Dk);  // vbar = W k
      Real sq = 0;
      for (int64_t i = 0; i < Dv; ++i) {  // W += beta (v - vbar) k^T
        const Real ui = beta[r] * (v[r * Dv + i] - vbar[i]);
        for (int64_t j = 0; j < Dk; ++j) {
          W[i * Dk + j] += ui * kt[j];
          sq += W[i * Dk + j] * W[i * Dk + j];
        }
      }
      const Real norm = std::sqrt(sq);  // W /= max(1, |W|_F)
      if ((t > 0 || clamp_first_step) && norm > Real(1))
        for (int64_t e = 0; e < Dv * Dk; ++e) W[e] /= norm;
      for (int64_t i = 0; i < Dv && q; ++i)  // y = W q
        y[r * Dv + i] = plain_dot(W + i * Dk, q + r * Dk, Dk);
    }
  }
}

template <typename Real>
void fwm_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                             const Real* grad_y, const Real* grad_WT, const Real* q,
                             const Real* k, const Real* v, const Real* beta, const Real* W0,
                             bool clamp_first_step, int64_t BH, int64_t T, int64_t Dk,
                             int64_t Dv) {
  const int64_t E = Dv * Dk;
  std::vector<Real> Ws((T + 1) * E), d(T * Dv), u(T * Dv), norm(T), A(E), a(Dv);
  std::vector<char> active(T);
  for (int64_t n = 0; n < BH; ++n) {
    for (int64_t e = 0; e < E; ++e) Ws[e] = W0 ? W0[n * E + e] : Real(0);
    for (int64_t t = 0; t < T; ++t) {  // the forward again, keeping every W_t
      const Real* kt = k + (n * T + t) * Dk;
      const Real* Wp = Ws.data() + t * E;
      Real* Wn = Ws.data() + (t + 1) * E;
      Real sq = 0;
      for (int64_t i = 0; i < Dv; ++i) {
        const Real vbar = plain_dot(Wp + i * Dk, kt, Dk);
        d[t * Dv + i] = v[(n * T + t) * Dv + i] - vbar;
        u[t * Dv + i] = beta[n * T + t] * d[t * Dv + i];
        for (int64_t j = 0; j < Dk; ++j) {
          Wn[i * Dk + j] = Wp[i * Dk + j] + u[t * Dv + i] * kt[j];
          sq += Wn[i * Dk + j] * Wn[i * Dk + j];
        }
      }
      norm[t] = std::sqrt(sq);
      active[t] = (t > 0 || clamp_first_step) && norm[t] > Real(1);
      for (int64_t e = 0; e < E && active[t]; ++e) Wn[e] /= norm[t];
    }
    for (int64_t e = 0; e < E; ++e) A[e] = grad_WT ? grad_WT[n * E + e] : Real(0);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t r = n * T + t;
      const Real* W = Ws.data() + (t + 1) * E;
      const Real* Wp = Ws.data() + t * E;
      const Real* kt = k + r * Dk;
      const Real b = beta[r];
      if (grad_y) {  // A += g q^T;  dq = W_t^T g
        for (int64_t i = 0; i < Dv; ++i)
          for (int64_t j = 0; j < Dk; ++j) A[i * Dk + j] += grad_y[r * Dv + i] * q[r * Dk + j];
        for (int64_t j = 0; j < Dk; ++j) {
          dq[r * Dk + j] = 0;
          for (int64_t i = 0; i < Dv; ++i) dq[r * Dk + j] += W[i * Dk + j] * grad_y[r * Dv + i];
        }
      }
      if (active[t]) {  // A = (A - <A, W_t> W_t) / n_t
        Real rho = 0;
        for (int64_t e = 0; e < E; ++e) rho += A[e] * W[e];
        for (int64_t e = 0; e < E; ++e) A[e] = (A[e] - rho * W[e]) / norm[t];
      }
      dbeta[r] = 0;
      for (int64_t i = 0; i < Dv; ++i) {  // a = A k;  dv = beta a;  dbeta = a . d
        a[i] = plain_dot(A.data() + i * Dk, kt, Dk);
        dv[r * Dv + i] = b * a[i];
        dbeta[r] += a[i] * d[t * Dv + i];
      }
      for (int64_t j = 0; j < Dk; ++j) {  // dk = A^T u - beta W_{t-1}^T a
        dk[r * Dk + j] = 0;
        for (int64_t i = 0; i < Dv; ++i)
          dk[r * Dk + j] += A[i * Dk + j] * u[t * Dv + i] - b * Wp[i * Dk + j] * a[i];
      }
      for (int64_t i = 0; i < Dv; ++i)  // A -= beta a k^T
        for (int64_t j = 0; j < Dk; ++j) A[i * Dk + j] -= b * a[i] * kt[j];
    }
    for (int64_t e = 0; e < E && dW0; ++e) dW0[n * E + e] = A[e];
  }
}

#define FWP_INSTANTIATE(R)                                                                       \
  template void fwm_rule_forward_naive<R>(R*, R*, const R*, const R*, const R*, const R*,      \
                                          const R*, bool, int64_t, int64_t, int64_t, int64_t); \
  template void fwm_rule_backward_naive<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,   \
                                           const R*, const R*, const R*, const R*, bool,       \
                                           int64_t, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
