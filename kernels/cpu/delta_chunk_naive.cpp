// The chunkwise delta rule as plain loops, line by line the equations of docs/CHUNKWISE.md in
// state orientation S = W^T (Dk x Dv): the reference the fast kernels (delta_chunk_cpu.cpp) are
// tested against, and itself tested against the sequential op. A chunk holds r <= C rows (the
// last one may be shorter); every matrix is r x r, r x Dk, r x Dv or Dk x Dv, stored row-major
// in std::vectors and indexed through small lambdas, so each loop reads like its formula.
#include <algorithm>
#include <vector>

#include "kernels/delta_chunk.h"

namespace fwp::kernels {

namespace {

// The rows [t0, t0 + r) of one sequence, and the matrices of the chunk that depend only on K,
// Q, beta: G = K K^T, L = tril(diag(beta) G, -1), Tm = (I + L)^{-1} diag(beta), Wy = Tm K.
template <typename Real>
struct Chunk {
  int64_t r, Dk;
  const Real *K, *Q, *beta;  // K(t, j) = K[t * Dk + j]
  std::vector<Real> G, L, Tm, Wy;

  Chunk(const Real* k, const Real* q, const Real* b, int64_t r_, int64_t Dk_)
      : r(r_), Dk(Dk_), K(k), Q(q), beta(b), G(r * r), L(r * r, 0), Tm(r * r, 0), Wy(r * Dk, 0) {
    for (int64_t t = 0; t < r; ++t)
      for (int64_t s = 0; s < r; ++s) {
        Real acc = 0;
        for (int64_t j = 0; j < Dk; ++j) acc += K[t * Dk + j] * K[s * Dk + j];
        G[t * r + s] = acc;
        if (s < t) L[t * r + s] = beta[t] * acc;
      }
    // (I + L) Tm = diag(beta), row by row: Tm_t = beta_t e_t - sum_{s<t} L_ts Tm_s
    for (int64_t t = 0; t < r; ++t)
      for (int64_t c = 0; c <= t; ++c) {
        Real acc = c == t ? beta[t] : Real(0);
        for (int64_t s = c; s < t; ++s) acc -= L[t * r + s] * Tm[s * r + c];
        Tm[t * r + c] = acc;
      }
    for (int64_t t = 0; t < r; ++t)  // Wy = Tm K
      for (int64_t s = 0; s <= t; ++s)
        for (int64_t j = 0; j < Dk; ++j) Wy[t * Dk + j] += Tm[t * r + s] * K[s * Dk + j];
  }
  Real qk(int64_t t, int64_t s) const {  // (Q K^T)_ts
    Real acc = 0;
    for (int64_t j = 0; j < Dk; ++j) acc += Q[t * Dk + j] * K[s * Dk + j];
    return acc;
  }
};

}  // namespace

template <typename Real>
void delta_chunk_forward_naive(Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                               const Real* v, const Real* beta, const Real* W0, int64_t BH,
                               int64_t T, int64_t Dk, int64_t Dv, int64_t C) {
  std::vector<Real> S(Dk * Dv), U;
  for (int64_t n = 0; n < BH; ++n) {
    for (int64_t j = 0; j < Dk; ++j)  // S = W0^T
      for (int64_t i = 0; i < Dv; ++i) S[j * Dv + i] = W0 ? W0[(n * Dv + i) * Dk + j] : Real(0);
    for (int64_t t0 = 0; t0 < T; t0 += C) {
      const int64_t r = std::min(C, T - t0), row = n * T + t0;
      const Chunk<Real> ch(k + row * Dk, q + row * Dk, beta + row, r, Dk);
      const Real* V = v + row * Dv;
      U.assign(r * Dv, 0);
      for (int64_t t = 0; t < r; ++t)  // U = Tm V - Wy S0
        for (int64_t i = 0; i < Dv; ++i) {
          Real acc = 0;
          for (int64_t s = 0; s <= t; ++s) acc += ch.Tm[t * r + s] * V[s * Dv + i];
          for (int64_t j = 0; j < Dk; ++j) acc -= ch.Wy[t * Dk + j] * S[j * Dv + i];
          U[t * Dv + i] = acc;
        }
      for (int64_t t = 0; t < r; ++t)  // O = Q S0 + ((Q K^T) .* M) U
        for (int64_t i = 0; i < Dv; ++i) {
          Real acc = 0;
          for (int64_t j = 0; j < Dk; ++j) acc += ch.Q[t * Dk + j] * S[j * Dv + i];
          for (int64_t s = 0; s <= t; ++s) acc += ch.qk(t, s) * U[s * Dv + i];
          y[(row + t) * Dv + i] = acc;
        }
      for (int64_t j = 0; j < Dk; ++j)  // S_C = S0 + K^T U
        for (int64_t i = 0; i < Dv; ++i)
          for (int64_t t = 0; t < r; ++t) S[j * Dv + i] += ch.K[t * Dk + j] * U[t * Dv + i];
      if (u) std::copy(U.begin(), U.end(), u + row * Dv);
    }
    for (int64_t i = 0; i < Dv; ++i)  // W_T = S^T
      for (int64_t j = 0; j < Dk; ++j) WT[(n * Dv + i) * Dk + j] = S[j * Dv + i];
  }
}

template <typename Real>
void delta_chunk_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                const Real* grad_y, const Real* grad_WT, const Real* q,
                                const Real* k, const Real* v, const Real* beta,
                                const Real* saved, Saved kind, const Real* WT, int64_t BH,
                                int64_t T, int64_t Dk, int64_t Dv, int64_t C) {
  std::vector<Real> S(Dk * Dv), dS(Dk * Dv), Us, dU, dP, dWy, dTm, M1;
  for (int64_t n = 0; n < BH; ++n) {
    for (int64_t j = 0; j < Dk; ++j)  // S = W_T^T, dS = dL/dS_T
      for (int64_t i = 0; i < Dv; ++i) {
        S[j * Dv + i] = WT[(n * Dv + i) * Dk + j];
        dS[j * Dv + i] = grad_WT ? grad_WT[(n * Dv + i) * Dk + j] : Real(0);
      }
    const int64_t last = T > 0 ? (T - 1) / C * C : 0;
    for (int64_t t0 = last; t0 >= 0 && T > 0; t0 -= C) {
      const int64_t r = std::min(C, T - t0), row = n * T + t0;
      const Chunk<Real> ch(k + row * Dk, q + row * Dk, beta + row, r, Dk);
      const Real *K = ch.K, *Q = ch.Q, *V = v + row * Dv, *dO = grad_y + row * Dv,
                 *b = beta + row;
      Us.assign(saved + row * Dv, saved + (row + r) * Dv);  // u_t, or d_t with u_t = beta_t d_t
      if (kind == Saved::v_minus_vbar)
        for (int64_t t = 0; t < r; ++t)
          for (int64_t i = 0; i < Dv; ++i) Us[t * Dv + i] *= b[t];
      const Real* U = Us.data();
      Real *dQ = dq + row * Dk, *dK = dk + row * Dk, *dV = dv + row * Dv, *db = dbeta + row;
      for (int64_t j = 0; j < Dk; ++j)  // S0 = S_C - K^T U  (rebuilt)
        for (int64_t i = 0; i < Dv; ++i)
          for (int64_t t = 0; t < r; ++t) S[j * Dv + i] -= K[t * Dk + j] * U[t * Dv + i];
      dU.assign(r * Dv, 0);
      for (int64_t s = 0; s < r; ++s)  // dU = ((Q K^T) .* M)^T dO + K dS
        for (int64_t i = 0; i < Dv; ++i) {
          Real acc = 0;
          for (int64_t t = s; t < r; ++t) acc += ch.qk(t, s) * dO[t * Dv + i];
          for (int64_t j = 0; j < Dk; ++j) acc += K[s * Dk + j] * dS[j * Dv + i];
          dU[s * Dv + i] = acc;
        }
      dP.assign(r * r, 0);
      for (int64_t t = 0; t < r; ++t)  // dP = (dO U^T) .* M
        for (int64_t s = 0; s <= t; ++s)
          for (int64_t i = 0; i < Dv; ++i) dP[t * r + s] += dO[t * Dv + i] * U[s * Dv + i];
      dWy.assign(r * Dk, 0);
      for (int64_t t = 0; t < r; ++t)
        for (int64_t j = 0; j < Dk; ++j) {
          Real aq = 0, ak = 0, aw = 0;
          for (int64_t s = 0; s <= t; ++s) aq += dP[t * r + s] * K[s * Dk + j];  // dP K
          for (int64_t s = t; s < r; ++s) ak += dP[s * r + t] * Q[s * Dk + j];   // dP^T Q
          for (int64_t i = 0; i < Dv; ++i) {
            aq += dO[t * Dv + i] * S[j * Dv + i];   // dO S0^T
            ak += U[t * Dv + i] * dS[j * Dv + i];   // U dS^T
            aw -= dU[t * Dv + i] * S[j * Dv + i];   // dWy = -dU S0^T
          }
          dQ[t * Dk + j] = aq;
          dK[t * Dk + j] = ak;
          dWy[t * Dk + j] = aw;
        }
      for (int64_t s = 0; s < r; ++s)  // dV = Tm^T dU
        for (int64_t i = 0; i < Dv; ++i) {
          Real acc = 0;
          for (int64_t t = s; t < r; ++t) acc += ch.Tm[t * r + s] * dU[t * Dv + i];
          dV[s * Dv + i] = acc;
        }
      dTm.assign(r * r, 0);
      for (int64_t t = 0; t < r; ++t)  // dTm = (dWy K^T + dU V^T) on the lower triangle
        for (int64_t s = 0; s <= t; ++s) {
          Real acc = 0;
          for (int64_t j = 0; j < Dk; ++j) acc += dWy[t * Dk + j] * K[s * Dk + j];
          for (int64_t i = 0; i < Dv; ++i) acc += dU[t * Dv + i] * V[s * Dv + i];
          dTm[t * r + s] = acc;
        }
      for (int64_t s = 0; s < r; ++s)  // dK += Tm^T dWy
        for (int64_t j = 0; j < Dk; ++j)
          for (int64_t t = s; t < r; ++t) dK[s * Dk + j] += ch.Tm[t * r + s] * dWy[t * Dk + j];
      M1.assign(r * r, 0);
      for (int64_t t = r - 1; t >= 0; --t)  // (I + L)^T M1 = dTm, from the last row up
        for (int64_t c = 0; c < r; ++c) {
          Real acc = dTm[t * r + c];
          for (int64_t s = t + 1; s < r; ++s) acc -= ch.L[s * r + t] * M1[s * r + c];
          M1[t * r + c] = acc;
        }
      for (int64_t t = 0; t < r; ++t) {
        db[t] = M1[t * r + t];  // from Tm = (I + L)^{-1} diag(beta)
        for (int64_t s = 0; s < t; ++s) {
          Real dL = 0;  // dL = tril(-M1 Tm^T, -1)
          for (int64_t c = 0; c <= s; ++c) dL -= M1[t * r + c] * ch.Tm[s * r + c];
          db[t] += dL * ch.G[t * r + s];  // from L = tril(diag(beta) K K^T, -1)
          const Real dG = b[t] * dL;      // dK += (dG + dG^T) K
          for (int64_t j = 0; j < Dk; ++j) {
            dK[t * Dk + j] += dG * K[s * Dk + j];
            dK[s * Dk + j] += dG * K[t * Dk + j];
          }
        }
      }
      for (int64_t j = 0; j < Dk; ++j)  // dS0 = dS + Q^T dO - Wy^T dU
        for (int64_t i = 0; i < Dv; ++i)
          for (int64_t t = 0; t < r; ++t)
            dS[j * Dv + i] += Q[t * Dk + j] * dO[t * Dv + i] - ch.Wy[t * Dk + j] * dU[t * Dv + i];
    }
    for (int64_t i = 0; i < Dv; ++i)  // dW0 = dS^T
      for (int64_t j = 0; j < Dk; ++j) dW0[(n * Dv + i) * Dk + j] = dS[j * Dv + i];
  }
}

#define FWP_INSTANTIATE(R)                                                                     \
  template void delta_chunk_forward_naive<R>(R*, R*, R*, const R*, const R*, const R*,       \
                                             const R*, const R*, int64_t, int64_t, int64_t,  \
                                             int64_t, int64_t);                              \
  template void delta_chunk_backward_naive<R>(R*, R*, R*, R*, R*, const R*, const R*,        \
                                              const R*, const R*, const R*, const R*,        \
                                              const R*, Saved, const R*, int64_t, int64_t,   \
                                              int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
