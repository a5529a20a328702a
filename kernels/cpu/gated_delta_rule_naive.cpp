// The naive twins of the gated-delta-rule kernels (kernels/gated_delta_rule.h): the math as plain
// loops over W in its own orientation (Dv rows of Dk), in the order the formulas are written.
// The backward recomputes and keeps every W_t of a sequence (T + 1 states) instead of using
// checkpoints. Tests compare the fast kernels (gated_delta_rule_cpu.cpp) against these.
#include <vector>

#include "kernels/cpu/naive_loops.h"
#include "kernels/gated_delta_rule.h"

namespace fwp::kernels {

template <typename Real>
void gated_delta_rule_forward_naive(Real* y, Real* WT, const Real* q, const Real* k,
                                    const Real* v, const Real* beta, const Real* alpha,
                                    const Real* W0, int64_t BH, int64_t T, int64_t Dk,
                                    int64_t Dv) {
  std::vector<Real> p(Dv);
  for (int64_t n = 0; n < BH; ++n) {
    Real* W = WT + n * Dv * Dk;
    for (int64_t e = 0; e < Dv * Dk; ++e) W[e] = W0 ? W0[n * Dv * Dk + e] : Real(0);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = n * T + t;  // row of step t in the (BH * T, .) inputs
      const Real* kt = k + r * Dk;
      for (int64_t i = 0; i < Dv; ++i) p[i] = plain_dot(W + i * Dk, kt, Dk);  // p = W_{t-1} k
      for (int64_t i = 0; i < Dv; ++i) {  // W = alpha W + beta (v - alpha p) k^T
        const Real ui = beta[r] * (v[r * Dv + i] - alpha[r] * p[i]);
        for (int64_t j = 0; j < Dk; ++j) W[i * Dk + j] = alpha[r] * W[i * Dk + j] + ui * kt[j];
      }
      for (int64_t i = 0; i < Dv; ++i)  // y = W_t q
        y[r * Dv + i] = plain_dot(W + i * Dk, q + r * Dk, Dk);
    }
  }
}

// Per step, in reverse, with A = dL/dW_t (g_t q_t^T included) and a = A k_t:
//   dq = W_t^T g     dv = beta a     dbeta = a . d     dk = A^T u - alpha beta W_{t-1}^T a
//   A' = A - beta a k^T;   dalpha = <A', W_{t-1}>;   dL/dW_{t-1} = alpha A'
template <typename Real>
void gated_delta_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                     Real* dW0, const Real* grad_y, const Real* grad_WT,
                                     const Real* q, const Real* k, const Real* v,
                                     const Real* beta, const Real* alpha, const Real* W0,
                                     int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  const int64_t E = Dv * Dk;
  std::vector<Real> Ws((T + 1) * E), d(T * Dv), u(T * Dv), A(E), a(Dv);
  for (int64_t n = 0; n < BH; ++n) {
    for (int64_t e = 0; e < E; ++e) Ws[e] = W0 ? W0[n * E + e] : Real(0);
    for (int64_t t = 0; t < T; ++t) {  // the forward again, keeping every W_t, d_t and u_t
      const int64_t r = n * T + t;
      const Real* kt = k + r * Dk;
      const Real* Wp = Ws.data() + t * E;
      Real* Wn = Ws.data() + (t + 1) * E;
      for (int64_t i = 0; i < Dv; ++i) {
        const Real p = plain_dot(Wp + i * Dk, kt, Dk);
        d[t * Dv + i] = v[r * Dv + i] - alpha[r] * p;
        u[t * Dv + i] = beta[r] * d[t * Dv + i];
        for (int64_t j = 0; j < Dk; ++j)
          Wn[i * Dk + j] = alpha[r] * Wp[i * Dk + j] + u[t * Dv + i] * kt[j];
      }
    }
    for (int64_t e = 0; e < E; ++e) A[e] = grad_WT ? grad_WT[n * E + e] : Real(0);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t r = n * T + t;
      const Real *qt = q + r * Dk, *kt = k + r * Dk, *g = grad_y + r * Dv;
      const Real* W = Ws.data() + (t + 1) * E;  // W_t
      const Real* Wp = Ws.data() + t * E;       // W_{t-1}
      const Real b = beta[r], al = alpha[r];
      for (int64_t i = 0; i < Dv; ++i)  // A += g q^T   (A = dL/dW_t)
        for (int64_t j = 0; j < Dk; ++j) A[i * Dk + j] += g[i] * qt[j];
      for (int64_t j = 0; j < Dk; ++j) {  // dq = W_t^T g;  dk = A^T u
        dq[r * Dk + j] = dk[r * Dk + j] = 0;
        for (int64_t i = 0; i < Dv; ++i) {
          dq[r * Dk + j] += W[i * Dk + j] * g[i];
          dk[r * Dk + j] += A[i * Dk + j] * u[t * Dv + i];
        }
      }
      dbeta[r] = 0;
      for (int64_t i = 0; i < Dv; ++i) {  // a = A k;  dv = beta a;  dbeta = a . d
        a[i] = plain_dot(A.data() + i * Dk, kt, Dk);
        dv[r * Dv + i] = b * a[i];
        dbeta[r] += a[i] * d[t * Dv + i];
      }
      for (int64_t j = 0; j < Dk; ++j)  // dk -= alpha beta W_{t-1}^T a
        for (int64_t i = 0; i < Dv; ++i) dk[r * Dk + j] -= al * b * Wp[i * Dk + j] * a[i];
      dalpha[r] = 0;
      for (int64_t i = 0; i < Dv; ++i)  // A' = A - beta a k^T;  dalpha = <A', W_{t-1}>;  A = alpha A'
        for (int64_t j = 0; j < Dk; ++j) {
          const Real ap = A[i * Dk + j] - b * a[i] * kt[j];
          dalpha[r] += ap * Wp[i * Dk + j];
          A[i * Dk + j] = al * ap;
        }
    }
    for (int64_t e = 0; e < E && dW0; ++e) dW0[n * E + e] = A[e];
  }
}

#define FWP_INSTANTIATE(R)                                                                       \
  template void gated_delta_rule_forward_naive<R>(R*, R*, const R*, const R*, const R*,        \
                                                  const R*, const R*, const R*, int64_t,       \
                                                  int64_t, int64_t, int64_t);                  \
  template void gated_delta_rule_backward_naive<R>(R*, R*, R*, R*, R*, R*, const R*, const R*, \
                                                   const R*, const R*, const R*, const R*,     \
                                                   const R*, const R*, int64_t, int64_t,       \
                                                   int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
