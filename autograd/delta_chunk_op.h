// The delta rule in chunkwise-parallel form (Yang et al., NeurIPS 2024; kernels/delta_chunk.h,
// docs/CHUNKWISE.md) as a differentiable op, and the choice delta_rule() makes between it and
// the sequential kernels (autograd/fast_weight_op.h). Both compute the same function; they differ
// in speed (chunkwise: matrix products over chunks of C steps, more FLOPs but denser ones and
// parallel over blocks of Dv columns) and in rounding. Three ways to run a delta_rule() call:
//   sequential forward + sequential backward   (saves v_t - vbar_t)
//   sequential forward + chunkwise backward    (the chunkwise backward reads v_t - vbar_t too)
//   chunkwise forward  + chunkwise backward    (saves u_t)
// DeltaRuleAlgorithm::automatic picks one from a table measured on the 2-core development
// machine (auto_delta_rule_plan: the mixed pair for large states and long sequences, else the
// sequential kernels); set_delta_rule_algorithm() overrides it for every call.
#pragma once
#include "autograd/fast_weight_op.h"

namespace fwp {

// Largest chunk size accepted: the per-thread workspace holds about 12 C x C matrices.
inline constexpr int64_t kMaxDeltaRuleChunk = 1024;
// The chunk size of DeltaRuleAlgorithm::chunkwise without an explicit one: the fastest of
// C = 8, 16, 32, 64 at every measured shape (docs/RESULTS.md).
inline constexpr int64_t kDefaultDeltaRuleChunk = 16;

enum class DeltaRuleAlgorithm { automatic, sequential, chunkwise };

// The setting every delta_rule() call follows (process-wide). chunk: the chunk size for the
// chunkwise kernels, in [1, kMaxDeltaRuleChunk], or 0 to take the table's. Throws fwp::Error
// for a bad chunk.
void set_delta_rule_algorithm(DeltaRuleAlgorithm algorithm, int64_t chunk = 0);
DeltaRuleAlgorithm delta_rule_algorithm();
int64_t delta_rule_chunk();

// Sets the algorithm for a scope and restores the previous setting at its end.
class DeltaRuleAlgorithmGuard {
 public:
  explicit DeltaRuleAlgorithmGuard(DeltaRuleAlgorithm algorithm, int64_t chunk = 0);
  ~DeltaRuleAlgorithmGuard();
  DeltaRuleAlgorithmGuard(const DeltaRuleAlgorithmGuard&) = delete;
  DeltaRuleAlgorithmGuard& operator=(const DeltaRuleAlgorithmGuard&) = delete;

 private:
  DeltaRuleAlgorithm previous_;
  int64_t previous_chunk_;
};

// Which kernels run: chunk_forward implies chunk_backward; chunk is C when either is set.
struct DeltaRulePlan {
  bool chunk_forward = false, chunk_backward = false;
  int64_t chunk = 0;
  bool uses_chunks() const { return chunk_forward || chunk_backward; }
};

// The measured table alone (autograd/delta_chunk_op.cpp): for sequences of T steps, widths Dk
// (= Ddot) and Dv, with or without a backward to follow. The number of sequences B*H and of
// threads did not change any measured decision and are not arguments.
DeltaRulePlan auto_delta_rule_plan(int64_t T, int64_t Dk, int64_t Dv, bool needs_grad,
                                   DType dtype);
// What delta_rule() runs under the current setting.
DeltaRulePlan delta_rule_plan(int64_t T, int64_t Dk, int64_t Dv, bool needs_grad, DType dtype);

// Always the chunkwise forward and backward with chunk size C, whatever the setting. Arguments
// and results as delta_rule() (autograd/fast_weight_op.h). Throws fwp::Error for C outside
// [1, kMaxDeltaRuleChunk], ShapeError for bad shapes.
DeltaRuleResult delta_rule_chunkwise(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0, int64_t C);

// delta_rule() calls this once it has checked its arguments and its plan uses chunks.
DeltaRuleResult delta_rule_with_plan(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0,
                                     const DeltaRulePlan& plan);

}  // namespace fwp
