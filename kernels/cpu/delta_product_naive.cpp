// The DeltaProduct kernels (kernels/delta_product.h) as plain loops over W in its own
// orientation (Dv rows of Dk), in the order the formulas are written, one sequence after another.
#include <vector>

#include "kernels/cpu/naive_loops.h"
#include "kernels/delta_product.h"

namespace fwp::kernels {

template <typename Real>
void delta_product_forward_naive(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                                 const Real* v, const Real* beta, const Real* W0, int64_t BH,
                                 int64_t T, int64_t n, int64_t Dk, int64_t Dv) {
  const int64_t E = Dv * Dk;
  for (int64_t b = 0; b < BH; ++b) {
    Real* W = WT + b * E;
    for (int64_t e = 0; e < E; ++e) W[e] = W0 ? W0[b * E + e] : Real(0);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < n; ++j) {  // the n writes of token t
        const int64_t r = (b * T + t) * n + j;  // their row in the (BH * T * n, .) inputs
        const Real* ks = k + r * Dk;
        for (int64_t i = 0; i < Dv; ++i) {  // row i of W only needs row i: d_i = v_i - W_i . k
          const Real di = v[r * Dv + i] - plain_dot(W + i * Dk, ks, Dk);
          if (d) d[r * Dv + i] = di;
          const Real ui = beta[r] * di;
          for (int64_t c = 0; c < Dk; ++c) W[i * Dk + c] += ui * ks[c];
        }
      }
      if (q)  // y_t = W_t q_t, after the n writes
        for (int64_t i = 0; i < Dv; ++i)
          y[(b * T + t) * Dv + i] = plain_dot(W + i * Dk, q + (b * T + t) * Dk, Dk);
    }
  }
}

// In reverse, with A = dL/dW after a write s (g_t q_t^T added at the end of each token):
//   W_{s-1} = W_s - beta d k^T    a = A k    dv = beta a    dbeta = a . d
//   dk = A^T u - beta W_{s-1}^T a    (u = beta d)        A <- A - beta a k^T
// and for the read of token t: dq_t = W_t^T g_t, A += g_t q_t^T.
template <typename Real>
void delta_product_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                  const Real* grad_y, const Real* grad_WT, const Real* q,
                                  const Real* k, const Real* beta, const Real* d, const Real* WT,
                                  int64_t BH, int64_t T, int64_t n, int64_t Dk, int64_t Dv) {
  const int64_t E = Dv * Dk;
  std::vector<Real> W(E), A(E), a(Dv);
  for (int64_t b = 0; b < BH; ++b) {
    for (int64_t e = 0; e < E; ++e) {
      W[e] = WT[b * E + e];
      A[e] = grad_WT ? grad_WT[b * E + e] : Real(0);
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t rt = b * T + t;  // the row of token t in q, y
      if (dq) {  // W is W_t here
        for (int64_t c = 0; c < Dk; ++c) {
          dq[rt * Dk + c] = 0;
          if (grad_y)
            for (int64_t i = 0; i < Dv; ++i) dq[rt * Dk + c] += W[i * Dk + c] * grad_y[rt * Dv + i];
        }
        if (grad_y)  // A += g q^T
          for (int64_t i = 0; i < Dv; ++i)
            for (int64_t c = 0; c < Dk; ++c) A[i * Dk + c] += grad_y[rt * Dv + i] * q[rt * Dk + c];
      }
      for (int64_t j = n - 1; j >= 0; --j) {
        const int64_t r = rt * n + j;
        const Real* ks = k + r * Dk;
        const Real* ds = d + r * Dv;
        const Real bs = beta[r];
        for (int64_t i = 0; i < Dv; ++i)  // W_{s-1} = W_s - beta d k^T
          for (int64_t c = 0; c < Dk; ++c) W[i * Dk + c] -= bs * ds[i] * ks[c];
        dbeta[r] = 0;
        for (int64_t i = 0; i < Dv; ++i) {  // a = A k;  dv = beta a;  dbeta = a . d
          a[i] = plain_dot(A.data() + i * Dk, ks, Dk);
          dv[r * Dv + i] = bs * a[i];
          dbeta[r] += a[i] * ds[i];
        }
        for (int64_t c = 0; c < Dk; ++c) {  // dk = A^T u - beta W_{s-1}^T a
          dk[r * Dk + c] = 0;
          for (int64_t i = 0; i < Dv; ++i)
            dk[r * Dk + c] += A[i * Dk + c] * bs * ds[i] - bs * W[i * Dk + c] * a[i];
        }
        for (int64_t i = 0; i < Dv; ++i)  // A <- A - beta a k^T  (= dL/dW_{s-1})
          for (int64_t c = 0; c < Dk; ++c) A[i * Dk + c] -= bs * a[i] * ks[c];
      }
    }
    for (int64_t e = 0; e < E && dW0; ++e) dW0[b * E + e] = A[e];
  }
}

#define FWP_INSTANTIATE(R)                                                                     \
  template void delta_product_forward_naive<R>(R*, R*, R*, const R*, const R*, const R*,      \
                                               const R*, const R*, int64_t, int64_t, int64_t, \
                                               int64_t, int64_t);                             \
  template void delta_product_backward_naive<R>(R*, R*, R*, R*, R*, const R*, const R*,       \
                                                const R*, const R*, const R*, const R*,       \
                                                const R*, int64_t, int64_t, int64_t, int64_t, \
                                                int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
