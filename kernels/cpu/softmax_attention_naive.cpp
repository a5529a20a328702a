// The naive twins of the fused softmax attention kernels (kernels/softmax_attention.h): the
// formulas as written, in double precision, the T x S probabilities recomputed where needed.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/softmax_attention.h"

namespace fwp::kernels {

namespace {
template <typename Real>
bool sees(const AttentionMask<Real>& m, const Real* keep, int64_t i, int64_t j, int64_t S) {
  return j < keys_seen(m, i, S) && (keep == nullptr || keep[j] != Real(0));
}
}  // namespace

template <typename Real>
void softmax_attention_forward_naive(Real* y, Real* lse, const Real* q, const Real* k,
                                     const Real* v, const AttentionMask<Real>& m, Real scale,
                                     int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  std::vector<double> s(S);
  for (int64_t n = 0; n < BH; ++n) {
    const Real* keep = keep_row(m, n, S);
    for (int64_t i = 0; i < T; ++i) {
      const Real* qi = q + (n * T + i) * Dk;
      double mx = -INFINITY;
      for (int64_t j = 0; j < S; ++j) {
        if (!sees(m, keep, i, j, S)) continue;
        double dot = 0;
        for (int64_t c = 0; c < Dk; ++c) dot += double(qi[c]) * k[(n * S + j) * Dk + c];
        s[j] = double(scale) * dot;
        mx = std::max(mx, s[j]);
      }
      Real* yi = y + (n * T + i) * Dv;
      std::fill(yi, yi + Dv, Real(0));
      if (mx == -INFINITY) {
        lse[n * T + i] = Real(-INFINITY);
        continue;
      }
      double sum = 0;
      for (int64_t j = 0; j < S; ++j)
        if (sees(m, keep, i, j, S)) sum += std::exp(s[j] - mx);
      const double L = mx + std::log(sum);
      lse[n * T + i] = Real(L);
      for (int64_t c = 0; c < Dv; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < S; ++j)
          if (sees(m, keep, i, j, S)) acc += std::exp(s[j] - L) * v[(n * S + j) * Dv + c];
        yi[c] = Real(acc);
      }
    }
  }
}

template <typename Real>
void softmax_attention_backward_naive(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                      const Real* q, const Real* k, const Real* v, const Real* y,
                                      const Real* lse, const AttentionMask<Real>& m, Real scale,
                                      int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  std::fill(dk, dk + BH * S * Dk, Real(0));
  std::fill(dv, dv + BH * S * Dv, Real(0));
  for (int64_t n = 0; n < BH; ++n) {
    const Real* keep = keep_row(m, n, S);
    for (int64_t i = 0; i < T; ++i) {
      const Real* qi = q + (n * T + i) * Dk;
      const Real* gi = grad_y + (n * T + i) * Dv;
      const Real* yi = y + (n * T + i) * Dv;
      Real* dqi = dq + (n * T + i) * Dk;
      std::fill(dqi, dqi + Dk, Real(0));
      double D = 0;
      for (int64_t c = 0; c < Dv; ++c) D += double(gi[c]) * yi[c];
      for (int64_t j = 0; j < S; ++j) {
        if (!sees(m, keep, i, j, S)) continue;
        const Real* kj = k + (n * S + j) * Dk;
        const Real* vj = v + (n * S + j) * Dv;
        double dot = 0, gv = 0;
        for (int64_t c = 0; c < Dk; ++c) dot += double(qi[c]) * kj[c];
        for (int64_t c = 0; c < Dv; ++c) gv += double(gi[c]) * vj[c];
        const double p = std::exp(double(scale) * dot - double(lse[n * T + i]));
        const double ds = p * (gv - D);
        for (int64_t c = 0; c < Dv; ++c) dv[(n * S + j) * Dv + c] += Real(p * gi[c]);
        for (int64_t c = 0; c < Dk; ++c) {
          dqi[c] += Real(double(scale) * ds * kj[c]);
          dk[(n * S + j) * Dk + c] += Real(double(scale) * ds * qi[c]);
        }
      }
    }
  }
}


#define FWP_INSTANTIATE(R) \
  template void softmax_attention_forward_naive<R>(R*, R*, const R*, const R*, const R*,        \
                                                   const AttentionMask<R>&, R, int64_t,         \
                                                   int64_t, int64_t, int64_t, int64_t);         \
  template void softmax_attention_backward_naive<R>(R*, R*, R*, const R*, const R*, const R*,   \
                                                    const R*, const R*, const R*,               \
                                                    const AttentionMask<R>&, R, int64_t,        \
                                                    int64_t, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
