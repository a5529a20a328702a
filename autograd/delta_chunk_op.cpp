// The chunkwise delta rule as an op (math: kernels/delta_chunk.h, docs/CHUNKWISE.md) and the
// algorithm setting and table that delta_rule() (autograd/fast_weight_op.cpp) consults.
// The op keeps what the backward kernel reads: q, k, v, beta (handles to the inputs, no copies),
// W_T (an output) and one (B, H, T, Dv) tensor, u_t from the chunkwise forward or v_t - vbar_t
// from the sequential one: the same bytes as the sequential op.
#include "autograd/delta_chunk_op.h"

#include <atomic>

#include "autograd/fast_weight_util.h"
#include "autograd/tape.h"
#include "core/functional.h"
#include "kernels/delta_chunk.h"
#include "kernels/delta_rule.h"

namespace fwp {

using namespace fast_weight_detail;

namespace {

std::atomic<DeltaRuleAlgorithm> g_algorithm{DeltaRuleAlgorithm::automatic};
std::atomic<int64_t> g_chunk{0};

void check_chunk(const char* op, int64_t C, bool zero_ok) {
  FWP_CHECK(C <= kMaxDeltaRuleChunk && (C >= 1 || (zero_ok && C == 0)), op, ": chunk size must be ",
            zero_ok ? "0 (the table's) or " : "", "in [1, ", kMaxDeltaRuleChunk, "], got chunk=", C);
}

// (y, W_T) = delta_rule(q, k, v, beta, W0) with the chunkwise backward. Per chunk, in reverse,
// with dS = dL/dS_C (S = W^T) and dO the chunk's rows of dL/dy (docs/CHUNKWISE.md):
//   dU = P^T dO + K dS;  dQ = dP K + dO S0^T;  dWy = -dU S0^T;  dV = Tm^T dU
//   dTm = dWy K^T + dU V^T;  M1 = (I + L)^{-T} dTm;  dL = tril(-M1 Tm^T, -1)
//   dbeta_t = M1_tt + sum_s dL_ts (k_t . k_s);  dK = dP^T Q + U dS^T + Tm^T dWy + (dG + dG^T) K
//   with dP = (dO U^T) .* M, dG = diag(beta) dL;  then dS <- dS + Q^T dO - Wy^T dU;  dW0 = dS^T.
struct DeltaChunkOp : Op {
  Tensor q, k, v, beta, saved, WT;
  kernels::Saved kind = kernels::Saved::u;
  int64_t C = 0;
  FastWeightDims dims{};
  const char* name() const override { return "delta_rule_chunkwise"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    const auto [B, H, T, Dk, Dv] = dims;
    const DType dt = q.dtype();
    DeltaRuleGrads grads(dims, dt);
    Tensor grad_WT = unless_zero(g[1]);
    dispatch_dtype(dt, [&](auto tag) {
      using Real = decltype(tag);
      Tensor ws = Tensor::empty({kernels::delta_chunk_workspace_size<Real>(B * H, T, Dk, Dv, C)}, dt);
      kernels::delta_chunk_backward_cpu<Real>(
          grads.dq.data<Real>(), grads.dk.data<Real>(), grads.dv.data<Real>(),
          grads.dbeta.data<Real>(), grads.dW0.data<Real>(), g[0].data<Real>(),
          ptr_or_null<Real>(grad_WT), q.data<Real>(), k.data<Real>(), v.data<Real>(),
          beta.data<Real>(), saved.data<Real>(), kind,
          WT.data<Real>(), B * H, T, Dk, Dv, C, ws.data<Real>());
    });
    return grads.needed(need);
  }
};

}  // namespace

void set_delta_rule_algorithm(DeltaRuleAlgorithm algorithm, int64_t chunk) {
  check_chunk("set_delta_rule_algorithm", chunk, true);
  g_algorithm = algorithm;
  g_chunk = chunk;
}
DeltaRuleAlgorithm delta_rule_algorithm() { return g_algorithm; }
int64_t delta_rule_chunk() { return g_chunk; }

DeltaRuleAlgorithmGuard::DeltaRuleAlgorithmGuard(DeltaRuleAlgorithm algorithm, int64_t chunk)
    : previous_(g_algorithm), previous_chunk_(g_chunk) {
  set_delta_rule_algorithm(algorithm, chunk);
}
DeltaRuleAlgorithmGuard::~DeltaRuleAlgorithmGuard() {
  g_algorithm = previous_;
  g_chunk = previous_chunk_;
}

// The table, measured with bench_delta_chunk on the 2-core development machine (AMD EPYC Zen 4,
// AVX-512, f32, one thread, minimum process CPU time of 3 interleaved runs; other jobs were using
// both cores, load average 5-9), speed-up of the chunkwise BACKWARD (C = 16) over the sequential
// one, both after the sequential forward; the chunkwise FORWARD never won (0.17-1.00x):
//
//   Ddot x Dv    T = 256          T = 512     T = 1024          T = 2048    T = 4096
//   <= 64 x 64   0.11-0.87 (every square d <= 64, T, B*H and C: the sequential kernels win)
//   256 x 16                                  0.79
//   128 x 32                                  0.74
//   96 x 64                                   1.24
//   128 x 64                                  1.11
//   256 x 32                                  1.27
//   80 x 80      1.12                         1.21
//   96 x 96      1.41             1.14-1.42   1.39              1.52-1.59
//   112 x 112    1.54                         1.62
//   128 x 128    0.90-1.09        0.93-1.14   1.16-1.21         1.22-1.29   1.34-1.43
//   144 x 144    2.11                         2.26
//   160 x 160    1.69                         1.89
//   192 x 192                     1.64-1.73                     2.24-2.30
//   256 x 256    1.75-1.79                    1.88-1.99                     2.50-2.52
//
// (ranges over B*H = 1, 8, 64; B*H did not change a decision; C = 16 was the fastest of 8, 16,
// 32, 64 at all 77 measured points.) The sequential backward is fast
// where its row width has an unrolled path (kernels/cpu/simd.h with_vec_count: 1-4 and 8 vectors,
// i.e. Ddot = 16, 32, 48, 64, 128 in f32) and 1.5-2x slower elsewhere, hence the exception for
// Ddot = 128. Produced by (docs/RESULTS.md, "Chunkwise-parallel delta rule on the CPU"):
//   bench_delta_chunk --threads 1,2 --d 16,32,64,128 --T 256,1024,4096 --bh 1,8,64 --C 16,32,64
//   bench_delta_chunk --threads 1,2 --d 256 --T 256,1024,4096 --bh 1,8 --C 16,32,64
//   bench_delta_chunk --threads 1 --d 96,128,192 --T 512,2048 --bh 1,8 --C 8,16
//   bench_delta_chunk --threads 1 --d 48,80,96,112,144,160 --T 256,1024 --bh 8 --C 16
//   bench_delta_chunk --threads 1 --d 64,96,128,256 --dv 16,32,64 --T 1024 --bh 8 --C 16
// With two threads and fewer sequences than threads, the chunkwise kernels also split Dv across
// the threads, which the sequential backward cannot; under that load the two-thread timings were
// dominated by preemption and could not be measured, so the table does not count on it. Measured
// in f32; f64 (the gradient-check precision) follows the same rule, unmeasured.
DeltaRulePlan auto_delta_rule_plan(int64_t T, int64_t Dk, int64_t Dv, bool needs_grad,
                                   DType dtype) {
  if (!needs_grad || T < 256) return {};
  const int64_t state = Dk * Dv, lanes = 64 / int64_t(dtype_size(dtype));
  const int64_t vecs = (Dk + lanes - 1) / lanes;
  const bool unrolled = vecs <= 4 || vecs == 8;  // the sequential backward's fast widths
  if (state >= 6144 && (T >= 1024 || state >= 24576 || !unrolled)) return {false, true, 16};
  return {};
}

DeltaRulePlan delta_rule_plan(int64_t T, int64_t Dk, int64_t Dv, bool needs_grad, DType dtype) {
  const DeltaRuleAlgorithm a = g_algorithm;
  const int64_t chunk = g_chunk;
  DeltaRulePlan plan;
  if (a == DeltaRuleAlgorithm::chunkwise) plan = {true, true, kDefaultDeltaRuleChunk};
  if (a == DeltaRuleAlgorithm::automatic) plan = auto_delta_rule_plan(T, Dk, Dv, needs_grad, dtype);
  if (plan.uses_chunks() && chunk > 0) plan.chunk = chunk;
  return plan;
}

DeltaRuleResult delta_rule_with_plan(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0,
                                     const DeltaRulePlan& plan) {
  FWP_ASSERT(plan.uses_chunks() && plan.chunk >= 1);
  FWP_CHECK(beta.defined(), "delta_rule: beta must be defined");
  const FastWeightDims dims = check_fast_weight_args("delta_rule", q, k, v, beta, W0, {});
  const auto [B, H, T, Dk, Dv] = dims;
  std::vector<Variable> inputs = {q, k, v, beta};
  if (W0.defined()) inputs.push_back(W0);
  const bool grad = any_requires_grad(inputs);
  const DType dt = q.dtype();
  const int64_t C = plan.chunk;
  Tensor y = Tensor::empty({B, H, T, Dv}, dt), WT = Tensor::empty({B, H, Dv, Dk}, dt);
  Tensor saved = grad ? Tensor::empty({B, H, T, Dv}, dt) : Tensor();
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    Real* s = ptr_or_null<Real>(saved);
    const Real* w0 = W0.defined() ? W0.value().data<Real>() : nullptr;
    const Real *qp = q.value().data<Real>(), *kp = k.value().data<Real>();
    const Real *vp = v.value().data<Real>(), *bp = beta.value().data<Real>();
    if (plan.chunk_forward) {
      Tensor ws = Tensor::empty({kernels::delta_chunk_workspace_size<Real>(B * H, T, Dk, Dv, C)}, dt);
      kernels::delta_chunk_forward_cpu<Real>(y.data<Real>(), WT.data<Real>(), s, qp, kp, vp, bp,
                                             w0, B * H, T, Dk, Dv, C, ws.data<Real>());
    } else {
      Tensor ws = Tensor::empty({kernels::delta_rule_workspace_size<Real>(B * H, Dk, Dv)}, dt);
      kernels::delta_rule_forward_cpu<Real>(y.data<Real>(), WT.data<Real>(), s, qp, kp, vp, bp,
                                            w0, B * H, T, Dk, Dv, ws.data<Real>());
    }
  });
  auto op = std::make_shared<DeltaChunkOp>();
  if (grad) {
    op->q = q.value();
    op->k = k.value();
    op->v = v.value();
    op->beta = beta.value();
    op->saved = saved;
    op->WT = WT;
  }
  op->kind = plan.chunk_forward ? kernels::Saved::u : kernels::Saved::v_minus_vbar;
  op->C = C;
  op->dims = dims;
  std::vector<Variable> out = record(op, inputs, {y, WT});
  return {out[0], out[1]};
}

DeltaRuleResult delta_rule_chunkwise(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0, int64_t C) {
  check_chunk("delta_rule_chunkwise", C, false);
  FWP_CHECK(beta.defined(), "delta_rule_chunkwise: beta must be defined");
  check_fast_weight_args("delta_rule_chunkwise", q, k, v, beta, W0, {});
  return delta_rule_with_plan(q, k, v, beta, W0, {true, true, C});
}

}  // namespace fwp
