// The transposed fast-weight state that the forward kernels of the delta, sum, gated and FWM rules
// (and the gated and FWM backwards, for A = (dL/dW)^T) keep in their workspace: S = W^T, Dk rows
// of Dv values, each row zero-padded to nv = vec_count(Dv) whole vectors, so that the hot loops
// are unit-stride passes over rows of S. These helpers move a state between W (Dv x Dk,
// row-major, as the kernels' callers hold it) and S; they run once per sequence, outside the
// time loop. Also the column blocks of the delta and sum forwards, and what the gated and FWM
// kernels share: the update vector of one step and the checkpoints of their backward.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/simd.h"

namespace fwp::kernels::FWP_SIMD_ISA {

// S (Dk rows of nv vectors) = W^T, zero-padded; all zeros when W is null.
template <typename Real>
void load_transposed(Vec<Real>* S, const Real* W, int64_t Dk, int64_t Dv) {
  const int64_t nv = vec_count<Real>(Dv), Dvp = padded<Real>(Dv);
  for (int64_t j = 0; j < Dk; ++j) {
    Real* row = reinterpret_cast<Real*>(S + j * nv);
    for (int64_t i = 0; i < Dvp; ++i) row[i] = W && i < Dv ? W[i * Dk + j] : Real(0);
  }
}

// W (Dv x Dk) = scale S^T, for S as load_transposed writes it. (scale = 1 copies exactly.)
template <typename Real>
void store_transposed(Real* W, const Vec<Real>* S, int64_t Dk, int64_t Dv, Real scale = 1) {
  const int64_t nv = vec_count<Real>(Dv);
  for (int64_t i = 0; i < Dv; ++i)
    for (int64_t j = 0; j < Dk; ++j)
      W[i * Dk + j] = scale * reinterpret_cast<const Real*>(S + j * nv)[i];
}

// The delta and sum forwards run in column blocks of S (rows of W) of at most this many vectors:
// the rows of W evolve independently, so each block is its own OpenMP task with its accumulators
// in registers (with_block_vec_count picks the block's fixed vector count). 4 on every
// instruction set: with 16 registers (AVX2) the delta forward's accumulators of 4-vector blocks
// no longer all fit, yet it measured about as fast as with 2-vector blocks, and the sum forward 1.2x
// faster (docs/RESULTS.md, "SIMD kernels on every instruction set").
constexpr int64_t kForwardBlockVecs = 4;
template <typename Real>
int64_t forward_blocks(int64_t Dv) {
  return std::max<int64_t>(1, (vec_count<Real>(Dv) + kForwardBlockVecs - 1) / kForwardBlockVecs);
}

// One step's update vector (nv vectors over Dv): d = v_t - s p and u = beta_t d, where s p is
// what the previous state predicts for v_t (gated: s = alpha_t, p = W_{t-1} k_t; FWM: s is the
// clamp's scale, p = Wtilde_{t-1} k_t). d may be null. A forward and the backward's re-run of it
// both call this, so their u_t are the same bits.
template <typename Real>
void make_update(Vec<Real>* u, Vec<Real>* d, const Real* vt, const Vec<Real>* p, Real s,
                 Real beta, int64_t Dv) {
  load_row(u, vt, Dv);
  for (int64_t c = 0; c < vec_count<Real>(Dv); ++c) {
    const Vec<Real> diff = u[c] - s * p[c];
    if (d) d[c] = diff;
    u[c] = beta * diff;
  }
}

// The checkpoints of the gated and FWM backwards (kernels/gated_delta_rule.h, kernels/fwm_rule.h):
// the forward keeps the state before steps 0, C, 2C, .. below T, each as W^T without padding
// (Dk rows of Dv values), and the backward re-runs every segment of C steps from its checkpoint.
// The forward's part: at a step t that starts a segment, S (as load_transposed holds it) goes to
// checkpoint t / C of cps; nothing when cps is null (no backward follows).
template <typename Real>
void store_checkpoint(Real* cps, const Vec<Real>* S, int64_t t, int64_t C, int64_t Dk,
                      int64_t Dv) {
  if (!cps || t % C != 0) return;
  const int64_t nv = vec_count<Real>(Dv);
  for (int64_t j = 0; j < Dk; ++j) store_row(cps + ((t / C) * Dk + j) * Dv, S + j * nv, Dv);
}

// The backward's part: S (Dk rows of nv vectors) = the checkpoint at cp, padded with zeros.
template <typename Real>
void load_checkpoint(Vec<Real>* S, const Real* cp, int64_t Dk, int64_t Dv) {
  const int64_t nv = vec_count<Real>(Dv);
  for (int64_t j = 0; j < Dk; ++j) load_row(S + j * nv, cp + j * Dv, Dv);
}

}  // namespace fwp::kernels::FWP_SIMD_ISA
