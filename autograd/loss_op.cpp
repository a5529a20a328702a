// Losses: scalar results. cross_entropy is fused (log-softmax and the pick of the target in one
// kernel, the backward softmax - onehot recomputed from the saved per-row logsumexp);
// mse_loss saves the difference a - b.
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// L = mean over counted rows n of (lse_n - x[n, t_n]):
//   dx[n, v] = g / count * (softmax(x[n])_v - [v == t_n])   (0 on rows with t_n == ignore_index)
struct CrossEntropyOp : Op {
  Tensor logits, lse;
  Indices targets;
  int64_t ignore_index = -100;
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {cross_entropy_backward(g[0], logits, lse, targets, ignore_index)};
  }
};

// L = mean((a - b)^2) over n elements:   da = 2 g (a - b) / n,   db = -da
struct MseLossOp : Op {
  Tensor diff;
  const char* name() const override { return "mse_loss"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    Tensor da = mul(diff, 2.0 * g[0].item() / double(diff.numel()));
    return {need[0] ? da : Tensor(), need[1] ? neg(da) : Tensor()};
  }
};

}  // namespace

Variable cross_entropy(const Variable& logits, const Indices& targets, int64_t ignore_index) {
  FWP_CHECK(logits.defined(), "cross_entropy: argument 'logits' is an undefined variable");
  auto op = std::make_shared<CrossEntropyOp>();
  Tensor lse;
  Tensor loss = cross_entropy(logits.value(), targets, ignore_index, &lse);  // validates
  if (any_requires_grad({logits})) {
    op->logits = logits.value();
    op->lse = lse;
    op->targets = targets;
    op->ignore_index = ignore_index;
  }
  return record(op, {logits}, loss);
}

Variable mse_loss(const Variable& a, const Variable& b) {
  FWP_CHECK(a.defined() && b.defined(), "mse_loss: arguments 'a' and 'b' must be defined variables");
  check_same_type("mse_loss", "a", a.value(), "b", b.value());
  FWP_CHECK_SHAPE(a.shape() == b.shape(), "mse_loss: shapes must match, got a=", a.shape(),
                  " and b=", b.shape());
  FWP_CHECK_SHAPE(a.numel() > 0, "mse_loss: the inputs are empty, a=", a.shape());
  Tensor diff = sub(a.value(), b.value());
  Tensor loss = mul(sum(square(diff)), 1.0 / double(diff.numel()));
  auto op = std::make_shared<MseLossOp>();
  if (any_requires_grad({a, b})) op->diff = diff;
  return record(op, {a, b}, loss);
}

}  // namespace fwp
