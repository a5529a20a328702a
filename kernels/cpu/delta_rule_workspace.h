// How the delta-rule kernels (delta_rule_cpu.cpp, the forward; delta_rule_backward_cpu.cpp, the
// backward) cut their work into OpenMP tasks, and the slice of the caller's workspace that each
// thread works in: one size for both, so that delta_rule_workspace_size serves either.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/fast_weight_state.h"
#include "kernels/cpu/simd.h"

namespace fwp::kernels::FWP_SIMD_ISA {

// The forward runs in column blocks of S of at most kForwardBlockVecs vectors, one task each
// (kernels/cpu/fast_weight_state.h).

// The backward runs in blocks of rows of W and A that fit in 32 KB (L1 holds 32-48 KB), one
// block after the other over the whole time loop: the rows evolve independently, and only dq,
// dk and dbeta sum over them (the blocks after the first add into them).
template <typename Real>
int64_t backward_block_rows(int64_t Dk, int64_t Dv) {
  const int64_t fit = 32768 / (2 * padded<Real>(Dk) * int64_t(sizeof(Real)));
  return std::min(Dv, std::max(kLanes<Real>, fit / kLanes<Real> * kLanes<Real>));
}

template <typename Real>
int64_t slice_size(int64_t Dk, int64_t Dv) {
  const int64_t Dkp = padded<Real>(Dk), rows = padded<Real>(backward_block_rows<Real>(Dk, Dv));
  const int64_t forward = Dk * kForwardBlockVecs * kLanes<Real>;
  const int64_t backward = 2 * rows * Dkp + 4 * rows + rows * kLanes<Real> + 3 * Dkp;  // wide rows
  return std::max(forward, backward);
}

}  // namespace fwp::kernels::FWP_SIMD_ISA
