// The retrieval model. Two tricks keep it fast without changing the math:
//  1. W x_t = W[:, :S] onehot(v_t) + W[:, S:] emb(k_t): a column of W picked by v_t plus a row of
//     the projected embedding table picked by k_t. Projecting the table once per step costs
//     O(S e Dk) instead of O(B L (S + e) Dk) for projecting every token.
//  2. For the sum rule with a single query, W q = sum_t v_t (k_t . q): the fast weights never need
//     to be formed (the dual, attention form of the same fast weight memory: docs/THEORY.md
//     section 2).
#include "experiments/synthetic/retrieval_model.h"

#include <cmath>

#include "autograd/fast_weight.h"
#include "autograd/functions.h"
#include "autograd/fwm_rule.h"
#include "autograd/gated_delta_rule.h"
#include "core/functional.h"

namespace fwp::synthetic {

std::string to_string(Rule rule) {
  switch (rule) {
    case Rule::sum: return "sum";
    case Rule::delta: return "delta";
    case Rule::fwm: return "fwm";
    case Rule::gdelta: return "gdelta";
    case Rule::softmax: return "softmax";
  }
  return "?";
}

Rule rule_from_string(const std::string& name) {
  for (Rule r : {Rule::sum, Rule::delta, Rule::fwm, Rule::gdelta, Rule::softmax})
    if (to_string(r) == name) return r;
  throw Error(cat("unknown update rule '", name, "' (expected sum, delta, fwm, gdelta or softmax)"));
}

std::string config_name(const ModelConfig& c) {
  if (c.rule == Rule::softmax) return "softmax";
  std::string phi = to_string(c.phi.kind);
  if (c.phi.kind == FeatureMapKind::dpfp) phi += std::to_string(c.phi.nu);
  if (c.phi.kind == FeatureMapKind::favor) phi += std::to_string(c.phi.m);
  return phi + "_" + to_string(c.rule);
}

ModelConfig config_from_name(const std::string& name, int64_t S) {
  ModelConfig c;
  c.S = S;
  if (name == "softmax") {
    c.rule = Rule::softmax;
    return c;
  }
  auto sep = name.rfind('_');
  FWP_CHECK(sep != std::string::npos, "config '", name,
            "' must look like <phi>_<rule>, e.g. linear_sum, dpfp2_delta, favor64_sum, softmax");
  c.rule = rule_from_string(name.substr(sep + 1));
  std::string phi = name.substr(0, sep);
  size_t digits = phi.find_first_of("0123456789");
  std::string kind = phi.substr(0, digits);
  c.phi.kind = feature_map_kind_from_string(kind);
  if (digits != std::string::npos) {
    int64_t arg = std::stoll(phi.substr(digits));
    FWP_CHECK(c.phi.kind == FeatureMapKind::dpfp || c.phi.kind == FeatureMapKind::favor,
              "config '", name, "': only dpfp<nu> and favor<m> take a number");
    (c.phi.kind == FeatureMapKind::dpfp ? c.phi.nu : c.phi.m) = arg;
  } else {
    FWP_CHECK(c.phi.kind != FeatureMapKind::dpfp && c.phi.kind != FeatureMapKind::favor,
              "config '", name, "': write dpfp<nu> or favor<m>, e.g. dpfp2 or favor64");
  }
  return c;
}

namespace {
// Re-draws a Linear layer's weight from U(-bound, bound) (its bias keeps the default init).
void init_weight_uniform(Linear& lin, double bound, Rng& rng) {
  lin.weight.mutable_value().copy_(
      Tensor::uniform(lin.weight.shape(), rng, -bound, bound, lin.weight.dtype()));
}
// One-hot rows: out[b, t, ids[b, t]] = 1; a constant (no gradient).
Tensor one_hot(const Indices& ids, int64_t n, DType dtype) {
  Shape shape = ids.shape;
  shape.push_back(n);
  Tensor out = Tensor::zeros(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (int64_t i = 0; i < ids.numel(); ++i) p[i * n + ids.values[i]] = T(1);
  });
  return out;
}
}  // namespace

RetrievalModel::RetrievalModel(const ModelConfig& config, Rng& rng, uint64_t feature_seed,
                               DType dtype)
    : config_(config), dtype_(dtype) {
  const int64_t S = config.S, e = config.embedding_size(), d = config.d_key;
  FWP_CHECK(S >= 2 && d >= 1, "RetrievalModel: need S >= 2 and Dk >= 1, got S=", S, " Dk=", d);
  embedding_ = register_parameter("embedding", Tensor::randn({2 * S, e}, rng, dtype),
                                  ParamInit::own);
  key_ = register_module("key", std::make_shared<Linear>(S + e, d, rng, LinearOptions{.dtype = dtype}));
  query_ = register_module("query", std::make_shared<Linear>(e, d, rng, LinearOptions{.dtype = dtype}));
  if (config.rule == Rule::softmax) {
    // the authors' softmax model: Xavier-uniform projections
    init_weight_uniform(*key_, std::sqrt(6.0 / double(S + e + d)), rng);
    init_weight_uniform(*query_, std::sqrt(6.0 / double(e + d)), rng);
  } else {
    // the authors' linear models: U(-1/sqrt(Dk), 1/sqrt(Dk)) = U(-1/8, 1/8) for Dk = 64
    init_weight_uniform(*key_, 1.0 / std::sqrt(double(d)), rng);
    init_weight_uniform(*query_, 1.0 / std::sqrt(double(d)), rng);
    phi_ = register_module("phi", std::make_shared<FeatureMap>(config.phi, d, feature_seed, dtype));
  }
  if (config.rule == Rule::delta || config.rule == Rule::fwm || config.rule == Rule::gdelta)
    beta_ = register_module("beta", std::make_shared<Linear>(S + e, 1, rng, LinearOptions{.dtype = dtype}));
  if (config.rule == Rule::gdelta) {
    // alpha_t = sigmoid(W_a x_t + b_a) with b_a = ln(8 S) at the start: 1 - alpha ~ 1 / (8 S),
    // a memory horizon of ~4 L for the longest sequences (L = 2 S, setting 2), so the oldest pair
    // keeps ~exp(-1/4) = 0.78 of its weight: the model starts close to the delta rule and learns
    // how much to forget. (W_a x_t is ~N(0, 0.5^2) at the start: the default U(+-1/sqrt(S + e)).)
    alpha_ = register_module("alpha", std::make_shared<Linear>(S + e, 1, rng, LinearOptions{.dtype = dtype}));
    alpha_->bias.mutable_value().fill_(std::log(8.0 * double(S)));
  }
}

Variable RetrievalModel::project_pairs(const Linear& proj, const RetrievalBatch& batch) const {
  const int64_t S = config_.S, e = config_.embedding_size();
  Variable w_value = slice(proj.weight, 1, 0, S);                          // (out, S)
  Variable w_embed = slice(proj.weight, 1, S, S + e);                      // (out, e)
  Variable table_v = transpose(w_value, 0, 1);                             // (S, out)
  Variable table_k = matmul(embedding_, w_embed, false, true);             // (2S, out)
  return embedding(table_v, batch.values) + embedding(table_k, batch.keys) + proj.bias;  // (B, L, out)
}

Variable RetrievalModel::forward(const RetrievalBatch& batch) {
  const int64_t B = batch.batch(), L = batch.length(), S = config_.S;
  FWP_CHECK_SHAPE(batch.keys.shape == Shape({B, L}) && batch.values.shape == Shape({B, L}),
                  "RetrievalModel: keys and values must be (B, L) = (", B, ", ", L, "), got keys=",
                  batch.keys.shape, " values=", batch.values.shape);
  for (int64_t id : batch.values.values)
    FWP_CHECK(id >= 0 && id < S, "RetrievalModel: value id ", id, " out of range [0, ", S, ")");
  Variable k = project_pairs(*key_, batch);                               // (B, L, Dk)
  Variable q = query_->forward(embedding(embedding_, batch.query));       // (B, Dk)

  if (config_.rule == Rule::softmax) {
    Variable scores = matmul(k, reshape(q, {B, -1, 1})) / std::sqrt(double(config_.d_key));  // (B, L, 1)
    Variable attn = reshape(softmax(scores, 1), {B, L});                   // over the L positions
    return scatter_add(attn, batch.values, S);                             // sum_t a_t onehot(v_t)
  }

  phi_->begin_forward();  // FAVOR+: one random draw shared by keys and query
  k = phi_->forward(k);   // (B, L, Ddot)
  q = phi_->forward(q);   // (B, Ddot)
  const int64_t Ddot = k.size(-1);

  if (config_.rule == Rule::sum) {
    Variable s = matmul(k, reshape(q, {B, Ddot, 1}));                      // k_t . q: (B, L, 1)
    Variable num = scatter_add(reshape(s, {B, L}), batch.values, S);       // sum_t onehot(v_t) (k_t . q)
    Variable den = sum(reshape(s, {B, L}), {1}, true) + config_.eps;       // z . q + eps
    return num / den;
  }
  Tensor v = one_hot(batch.values, S, dtype_).reshape({B, 1, L, S});     // values: fixed one-hot
  Variable beta = sigmoid(reshape(project_pairs(*beta_, batch), {B, 1, L}));
  if (config_.rule == Rule::fwm) {  // no normalisation; write without reading, then LayerNorm
    Variable W = fwm_rule(Variable(), reshape(k, {B, 1, L, Ddot}), Variable(v), beta, {},
                          /*clamp_first_step=*/false).state;
    Variable y = reshape(matmul(reshape(W, {B, S, Ddot}), reshape(q, {B, Ddot, 1})), {B, S});
    return layer_norm(y, Variable(), Variable());
  }
  // delta rules: write all L pairs with the fused op, then read the final W with q.
  k = sum_normalize(k, config_.eps);
  q = sum_normalize(q, config_.eps);
  Variable k4 = reshape(k, {B, 1, L, Ddot});
  Variable WL;
  if (config_.rule == Rule::gdelta) {
    Variable alpha = sigmoid(reshape(project_pairs(*alpha_, batch), {B, 1, L}));
    WL = gated_delta_rule(k4, k4, Variable(v), beta, alpha).state;
  } else {
    WL = delta_rule(k4, k4, Variable(v), beta).state;
  }
  Variable W = reshape(WL, {B, S, Ddot});
  return reshape(matmul(W, reshape(q, {B, Ddot, 1})), {B, S});
}

Variable RetrievalModel::forward_reference(const RetrievalBatch& batch) {
  const int64_t B = batch.batch(), L = batch.length(), S = config_.S;
  Variable v(one_hot(batch.values, S, dtype_));                                // (B, L, S)
  Variable x = concat({v, embedding(embedding_, batch.keys)}, -1);             // (B, L, S + e)
  Variable k = key_->forward(x);                                                // (B, L, Dk)
  Variable q = query_->forward(embedding(embedding_, batch.query));             // (B, Dk)
  if (config_.rule == Rule::softmax) {
    Variable a = softmax(matmul(k, reshape(q, {B, -1, 1})) / std::sqrt(double(config_.d_key)), 1);
    return reshape(matmul(v, a, true, false), {B, S});
  }
  phi_->begin_forward();
  k = phi_->forward(k);
  q = reshape(phi_->forward(q), {B, -1, 1});                                    // (B, Ddot, 1)
  const int64_t Ddot = k.size(-1);
  if (config_.rule == Rule::sum) {
    Variable W = matmul(v, k, true, false);                                     // sum_t v_t k_t^T
    Variable z = sum(k, {1}, true);                                             // (B, 1, Ddot)
    return reshape(matmul(W, q) / (matmul(z, q) + config_.eps), {B, S});
  }
  Variable beta = sigmoid(reshape(beta_->forward(x), {B, 1, L}));
  if (config_.rule == Rule::fwm) {
    Variable W = fwm_rule_reference(Variable(), reshape(k, {B, 1, L, Ddot}), reshape(v, {B, 1, L, S}),
                                    beta, {}, /*clamp_first_step=*/false).state;
    return layer_norm(reshape(matmul(reshape(W, {B, S, Ddot}), q), {B, S}), Variable(), Variable());
  }
  k = sum_normalize(k, config_.eps);
  q = sum_normalize(reshape(q, {B, Ddot}), config_.eps);
  Variable k4 = reshape(k, {B, 1, L, Ddot});
  Variable v4 = reshape(v, {B, 1, L, S});
  Variable W = config_.rule == Rule::gdelta
                   ? gated_delta_rule_reference(k4, k4, v4, beta,
                                                sigmoid(reshape(alpha_->forward(x), {B, 1, L}))).state
                   : delta_rule_reference(k4, k4, v4, beta).state;
  return reshape(matmul(reshape(W, {B, S, Ddot}), reshape(q, {B, Ddot, 1})), {B, S});
}

Variable RetrievalModel::loss(const Variable& yhat, const Indices& target) const {
  const int64_t B = yhat.size(0);
  FWP_CHECK_SHAPE(target.numel() == B, "RetrievalModel::loss: need ", B, " targets, got ",
                  target.numel());
  Variable diff = yhat - Variable(one_hot(target, config_.S, yhat.dtype()));
  return sum(square(diff)) * (0.5 / double(B));
}

}  // namespace fwp::synthetic
