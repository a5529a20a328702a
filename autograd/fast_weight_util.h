// Internal helpers shared by the fast-weight ops (fast_weight_op.cpp, delta_chunk_op.cpp,
// gated_delta_rule_op.cpp, fwm_rule_op.cpp) and their composed references; not part of the API.
// The idea: optional tensors (W0, z0, an unused output's gradient) travel as undefined tensors
// up to the kernel call, where they become null pointers, which the kernels read as "zeros".
#pragma once
#include <initializer_list>
#include <memory>
#include <vector>

#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/tape.h"

namespace fwp::fast_weight_detail {

// The data of an optional tensor: null when it is undefined.
template <typename Real>
Real* ptr_or_null(Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}
template <typename Real>
const Real* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}

// The value of an optional input: an undefined tensor when the variable is undefined.
inline Tensor value_or_undefined(const Variable& x) { return x.defined() ? x.value() : Tensor(); }

// An upstream gradient the tape filled with zeros (the output was unused) becomes undefined,
// which the kernels read as "no gradient" (null) and skip without reading it.
inline Tensor unless_zero(const Tensor& g) {
  const bool zero = dispatch_dtype(g.dtype(), [&](auto tag) {
    using Real = decltype(tag);
    const Real* p = g.data<Real>();
    const int64_t n = g.numel();
    for (int64_t i = 0; i < n; ++i)
      if (p[i] != Real(0)) return false;
    return true;
  });
  return zero ? Tensor() : g;
}

// An op's gradients with those of the inputs that need none left undefined (autograd/op.h).
inline std::vector<Tensor> only_needed(std::vector<Tensor> grads, const std::vector<bool>& need) {
  for (size_t i = 0; i < grads.size(); ++i)
    if (!need[i]) grads[i] = Tensor();
  return grads;
}

// The gradients of a delta-rule op (inputs q, k, v, beta[, W0]; the sequential and the chunkwise
// algorithm), allocated on the inputs' device for its backward kernel to overwrite.
struct DeltaRuleGrads {
  Tensor dq, dk, dv, dbeta, dW0;
  DeltaRuleGrads(const FastWeightDims& d, DType dt, Device dev = Device::cpu)
      : dq(Tensor::empty({d.B, d.H, d.T, d.Dk}, dt, dev)),
        dk(Tensor::empty({d.B, d.H, d.T, d.Dk}, dt, dev)),
        dv(Tensor::empty({d.B, d.H, d.T, d.Dv}, dt, dev)),
        dbeta(Tensor::empty({d.B, d.H, d.T}, dt, dev)),
        dW0(Tensor::empty({d.B, d.H, d.Dv, d.Dk}, dt, dev)) {}
  // In input order, dW0 only when W0 was an input; those not needed undefined.
  std::vector<Tensor> needed(const std::vector<bool>& need) const {
    std::vector<Tensor> grads = {dq, dk, dv, dbeta, dW0};
    grads.resize(need.size());  // no W0 input: no dW0
    return only_needed(std::move(grads), need);
  }
};

// The gradients of an op whose inputs are [q,] k, v, <gates> [, W0], q and W0 optional (a
// write-only caller passes no q, a fresh state no W0): in input order, only those needed.
inline std::vector<Tensor> gradients_in_input_order(bool has_q, const Tensor& dq,
                                                    std::initializer_list<Tensor> always,
                                                    bool has_W0, const Tensor& dW0,
                                                    const std::vector<bool>& need) {
  std::vector<Tensor> grads;
  if (has_q) grads.push_back(dq);
  grads.insert(grads.end(), always);
  if (has_W0) grads.push_back(dW0);
  return only_needed(std::move(grads), need);
}

// Records an op whose outputs are y and W_T, or W_T alone for a write-only call (no q, so no y):
// returns (y, W_T), y undefined when nothing was read.
struct ReadAndState {
  Variable y, state;
};
inline ReadAndState record_read_and_state(std::shared_ptr<Op> op,
                                          const std::vector<Variable>& inputs, const Tensor& y,
                                          const Tensor& WT, bool read) {
  if (!read) return {Variable(), record(std::move(op), inputs, WT)};
  std::vector<Variable> out = record(std::move(op), inputs, {y, WT});
  return {out[0], out[1]};
}

// The argument checks of gated_delta_rule and its reference: those of the other fast-weight
// ops (check_fast_weight_args), plus alpha's. Defined in gated_delta_rule_op.cpp.
FastWeightDims check_gated_args(const char* op, const Variable& q, const Variable& k,
                                const Variable& v, const Variable& beta, const Variable& alpha,
                                const Variable& W0);

// The composed references, one step at a time:
// step t of x (B, H, T, D) as a batch of column vectors (B, H, D, 1);
inline Variable column(const Variable& x, int64_t t) {
  return reshape(slice(x, 2, t, t + 1), {x.size(0), x.size(1), x.size(3), 1});
}
// step t of a per-step scalar s (B, H, T) as (B, H, 1, 1);
inline Variable scalar_at(const Variable& s, int64_t t) {
  return reshape(slice(s, 2, t, t + 1), {s.size(0), s.size(1), 1, 1});
}
// the per-step outputs ys (B, H, Dv, 1) stacked into y (B, H, T, Dv).
inline Variable stack_steps(const std::vector<Variable>& ys, const FastWeightDims& d,
                            DType dtype) {
  if (ys.empty()) return Variable(Tensor::zeros({d.B, d.H, 0, d.Dv}, dtype));
  std::vector<Variable> rows;
  for (const Variable& y : ys) rows.push_back(reshape(y, {d.B, d.H, 1, d.Dv}));
  return concat(rows, 2);
}

}  // namespace fwp::fast_weight_detail
