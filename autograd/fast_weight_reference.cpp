// The fast-weight rules composed from autograd primitives, one time step at a time: the plain
// statement of the math that the fused ops (fast_weight.cpp) are tested against. Every step adds
// a few (B, H, Dv, Ddot) tensors to the tape, so memory grows as T x Dv x Ddot: use these for
// checking, not for training.
#include "autograd/fast_weight.h"
#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"

namespace fwp {

using namespace fast_weight_detail;

DeltaRuleResult delta_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0) {
  FWP_CHECK(beta.defined(), "delta_rule_reference: beta must be defined");
  const FastWeightDims d = check_fast_weight_args("delta_rule_reference", q, k, v, beta, W0, {});
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, q.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    Variable qt = column(q, t), kt = column(k, t), vt = column(v, t);
    Variable bt = scalar_at(beta, t);
    Variable vbar = matmul(W, kt);                 // W_{t-1} k_t
    Variable u = bt * (vt - vbar);                 // beta_t (v_t - vbar_t)
    W = W + matmul(u, kt, false, true);            // W_t = W_{t-1} + u_t k_t^T
    ys.push_back(matmul(W, qt));                   // y_t = W_t q_t
  }
  return {stack_steps(ys, d, q.dtype()), W};
}

SumRuleResult sum_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                 bool normalize, double eps, const Variable& W0,
                                 const Variable& z0) {
  const FastWeightDims d = check_fast_weight_args("sum_rule_reference", q, k, v, {}, W0, z0);
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, q.dtype()));
  Variable z = z0.defined() ? reshape(z0, {d.B, d.H, d.Dk, 1})
                            : Variable(Tensor::zeros({d.B, d.H, d.Dk, 1}, q.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    Variable qt = column(q, t), kt = column(k, t), vt = column(v, t);
    W = W + matmul(vt, kt, false, true);           // W_t = W_{t-1} + v_t k_t^T
    z = z + kt;                                    // z_t = z_{t-1} + k_t
    Variable y = matmul(W, qt);                    // W_t q_t
    if (normalize) y = y / (sum(z * qt, {2}, true) + eps);  // / (z_t . q_t + eps)
    ys.push_back(y);
  }
  return {stack_steps(ys, d, q.dtype()), W, reshape(z, {d.B, d.H, d.Dk})};
}

}  // namespace fwp
