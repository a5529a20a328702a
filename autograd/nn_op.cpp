// Neural-network building blocks: layer norm (fused), dropout, embedding, cumsum, masked_fill.
// Each records one op; the backward kernels live beside the forward ones in kernels/cpu/.
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

void require_defined(const char* op, const char* arg, const Variable& v) {
  FWP_CHECK(v.defined(), op, ": argument '", arg, "' is an undefined variable");
}

// y = xhat * w + b over the last dim, xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps):
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),   dxhat = g * w
//   dw = sum over rows of g * xhat,   db = sum over rows of g
// Inputs are (x, w, b) without the undefined ones; gradients come back in the same order.
struct LayerNormOp : Op {
  Tensor x, weight, mean, rstd;
  bool has_weight = false, has_bias = false;
  const char* name() const override { return "layer_norm"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    const bool need_w = has_weight && need[1], need_b = has_bias && need[has_weight ? 2 : 1];
    LayerNormGrads d = layer_norm_backward(g[0], x, weight, mean, rstd, need[0], need_w, need_b);
    std::vector<Tensor> grads{d.dx};
    if (has_weight) grads.push_back(d.dweight);
    if (has_bias) grads.push_back(d.dbias);
    return grads;
  }
};

// y = x * keep / (1 - p) with keep regenerated from the seed:   dx = g * keep / (1 - p)
struct DropoutOp : Op {
  double p = 0.0;
  uint64_t seed = 0;
  const char* name() const override { return "dropout"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {dropout(g[0], p, seed)};
  }
};

// y[n] = weight[ids[n]]:   dweight[v] = sum over {n : ids[n] == v} of g[n]
struct EmbeddingOp : Op {
  Indices ids;
  int64_t V = 0;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {embedding_backward(g[0], ids, V)};
  }
};

// y_j = sum_{k <= j} x_k along dim:   dx_j = sum_{k >= j} g_k (reverse cumsum)
struct CumsumOp : Op {
  int64_t dim = 0;
  const char* name() const override { return "cumsum"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {cumsum_backward(g[0], dim)};
  }
};

// y = mask ? value : x:   dx = mask ? 0 : g
struct MaskedFillOp : Op {
  Tensor mask;
  const char* name() const override { return "masked_fill"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {masked_fill(g[0], mask, 0.0)};
  }
};

}  // namespace

Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps) {
  require_defined("layer_norm", "x", x);
  auto op = std::make_shared<LayerNormOp>();
  op->has_weight = weight.defined();
  op->has_bias = bias.defined();
  const Tensor w = op->has_weight ? weight.value() : Tensor();
  const Tensor b = op->has_bias ? bias.value() : Tensor();
  Tensor mean, rstd;
  Tensor y = layer_norm(x.value(), w, b, eps, &mean, &rstd);  // validates
  std::vector<Variable> inputs{x};
  if (op->has_weight) inputs.push_back(weight);
  if (op->has_bias) inputs.push_back(bias);
  if (any_requires_grad(inputs)) {
    op->x = x.value();
    op->weight = w;
    op->mean = mean;
    op->rstd = rstd;
  }
  return record(op, inputs, y);
}

Variable dropout(const Variable& x, double p, Rng& rng, bool training) {
  require_defined("dropout", "x", x);
  FWP_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got p=", p);
  if (!training || p == 0.0) return x;  // identity; draws nothing from rng
  auto op = std::make_shared<DropoutOp>();
  op->p = p;
  op->seed = rng.next_u64();
  return record(op, {x}, dropout(x.value(), p, op->seed));
}

Variable embedding(const Variable& weight, const Indices& ids) {
  require_defined("embedding", "weight", weight);
  Tensor y = embedding(weight.value(), ids);  // validates
  auto op = std::make_shared<EmbeddingOp>();
  op->V = weight.size(0);
  if (any_requires_grad({weight})) op->ids = ids;
  return record(op, {weight}, y);
}

Variable cumsum(const Variable& a, int64_t dim) {
  require_defined("cumsum", "a", a);
  Tensor y = cumsum(a.value(), dim);  // validates
  auto op = std::make_shared<CumsumOp>();
  op->dim = dim;
  return record(op, {a}, y);
}

Variable masked_fill(const Variable& a, const Tensor& mask, double value) {
  require_defined("masked_fill", "a", a);
  Tensor y = masked_fill(a.value(), mask, value);  // validates
  auto op = std::make_shared<MaskedFillOp>();
  if (any_requires_grad({a})) op->mask = mask;
  return record(op, {a}, y);
}

}  // namespace fwp
