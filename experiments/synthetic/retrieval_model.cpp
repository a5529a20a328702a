// The retrieval model. Two tricks keep it fast without changing the math:
//  1. W x_t = W[:, :S] onehot(v_t) + W[:, S:] emb(k_t): a column of W picked by v_t plus a row of
//     the projected embedding table picked by k_t. Projecting the table once per step costs
//     O(S e Dk) instead of O(B L (S + e) Dk) for projecting every token.
//  2. For the sum rule with a single query, W q = sum_t v_t (k_t . q): the fast weights never need
//     to be formed (the dual, attention form of the same fast weight memory: docs/THEORY.md
//     section 2).
#include "experiments/synthetic/retrieval_model.h"

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp::synthetic {

std::vector<std::string> rule_names() {
  std::vector<std::string> names;
  for (const FastWeightRule& r : fast_weight_rules()) names.push_back(r.short_name);
  names.push_back("softmax");
  return names;
}

void set_rule(ModelConfig& c, const std::string& name) {
  const std::vector<std::string> names = rule_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string expected;
    for (size_t i = 0; i < names.size(); ++i)
      expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    throw Error(cat("unknown update rule '", name, "' (expected ", expected, ")"));
  }
  c.softmax = name == "softmax";
  if (!c.softmax) c.rule = update_rule_from_short_name(name);
}

std::string config_name(const ModelConfig& c) {
  if (c.softmax) return "softmax";
  std::string phi = to_string(c.phi.kind);
  if (c.phi.kind == FeatureMapKind::dpfp) phi += std::to_string(c.phi.nu);
  if (c.phi.kind == FeatureMapKind::favor) phi += std::to_string(c.phi.m);
  return phi + "_" + fast_weight_rule(c.rule).short_name;
}

ModelConfig config_from_name(const std::string& name, int64_t S) {
  ModelConfig c;
  c.S = S;
  if (name == "softmax") {
    c.softmax = true;
    return c;
  }
  auto sep = name.rfind('_');
  FWP_CHECK(sep != std::string::npos, "config '", name,
            "' must look like <phi>_<rule>, e.g. linear_sum, dpfp2_delta, favor64_sum, softmax");
  set_rule(c, name.substr(sep + 1));
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
// The value ids of (B, L) with each repeated n times, (B, L n): the value a rule with n writes
// per token writes with each of them.
Indices repeat_each(const Indices& ids, int64_t n) {
  if (n == 1) return ids;
  std::vector<int64_t> out;
  out.reserve(ids.values.size() * n);
  for (int64_t id : ids.values) out.insert(out.end(), n, id);
  return Indices({ids.shape[0], ids.shape[1] * n}, std::move(out));
}
// The number of (key, value) pairs a config's rule writes per token.
int64_t writes_per_token(const ModelConfig& c) {
  return c.softmax ? 1 : fast_weight_rule(c.rule).writes;
}
}  // namespace

RetrievalModel::RetrievalModel(const ModelConfig& config, Rng& rng, uint64_t feature_seed,
                               DType dtype)
    : config_(config), dtype_(dtype) {
  const int64_t S = config.S, e = config.embedding_size(), d = config.d_key;
  FWP_CHECK(S >= 2 && d >= 1, "RetrievalModel: need S >= 2 and Dk >= 1, got S=", S, " Dk=", d);
  embedding_ = register_parameter("embedding", Tensor::randn({2 * S, e}, rng, dtype),
                                  ParamInit::own);
  // n keys per token for a rule with n writes per token
  key_ = register_module("key", std::make_shared<Linear>(S + e, writes_per_token(config) * d, rng,
                                                         LinearOptions{.dtype = dtype}));
  query_ = register_module("query", std::make_shared<Linear>(e, d, rng, LinearOptions{.dtype = dtype}));
  if (config.softmax) {
    // the authors' softmax model: Xavier-uniform projections
    init_weight_uniform(*key_, std::sqrt(6.0 / double(S + e + d)), rng);
    init_weight_uniform(*query_, std::sqrt(6.0 / double(e + d)), rng);
  } else {
    // the authors' linear models: U(-1/sqrt(Dk), 1/sqrt(Dk)) = U(-1/8, 1/8) for Dk = 64
    init_weight_uniform(*key_, 1.0 / std::sqrt(double(d)), rng);
    init_weight_uniform(*query_, 1.0 / std::sqrt(double(d)), rng);
    phi_ = register_module("phi", std::make_shared<FeatureMap>(config.phi, d, feature_seed, dtype));
  }
  if (config.softmax) return;
  // One projection per gate of the rule, from x_t to its logit(s): "beta", "alpha", ...
  const FastWeightRule& rule = fast_weight_rule(config.rule);
  for (const RuleGate& g : rule.gates()) {
    auto gate = register_module(g.name, std::make_shared<Linear>(S + e, g.per_write ? rule.writes : 1, rng,
                                                                 LinearOptions{.dtype = dtype}));
    if (g.init == GateInit::decay) {
      // alpha_t = sigmoid(W_a x_t + b_a) with b_a = ln(8 S) at the start (a horizon of 8 S + 1):
      // 1 - alpha ~ 1 / (8 S), a memory horizon of ~4 L for the longest sequences (L = 2 S,
      // setting 2), so the oldest pair keeps ~exp(-1/4) = 0.78 of its weight: the model starts
      // close to the delta rule and learns how much to forget. (W_a x_t is ~N(0, 0.5^2) at the
      // start: the default U(+-1/sqrt(S + e)).)
      gate->bias.mutable_value().fill_(decay_gate_bias(8.0 * double(S) + 1.0));
    }
    gates_.push_back(gate);
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
  const int64_t n = writes_per_token(config_);
  Variable k = project_pairs(*key_, batch);                               // (B, L, n Dk)
  if (n > 1) k = reshape(k, {B, L * n, config_.d_key});                   // (B, L n, Dk)
  Variable q = query_->forward(embedding(embedding_, batch.query));       // (B, Dk)

  if (config_.softmax) {
    Variable scores = matmul(k, reshape(q, {B, -1, 1})) / std::sqrt(double(config_.d_key));  // (B, L, 1)
    Variable attn = reshape(softmax(scores, 1), {B, L});                   // over the L positions
    return scatter_add(attn, batch.values, S);                             // sum_t a_t onehot(v_t)
  }

  phi_->begin_forward();  // FAVOR+: one random draw shared by keys and query
  k = phi_->forward(k);   // (B, L, Ddot)
  q = phi_->forward(q);   // (B, Ddot)
  const int64_t Ddot = k.size(-1);

  if (config_.rule == UpdateRule::sum) {  // trick 2: the dual form, W never formed
    Variable s = matmul(k, reshape(q, {B, Ddot, 1}));                      // k_t . q: (B, L, 1)
    Variable num = scatter_add(reshape(s, {B, L}), batch.values, S);       // sum_t onehot(v_t) (k_t . q)
    Variable den = sum(reshape(s, {B, L}), {1}, true) + config_.eps;       // z . q + eps
    return num / den;
  }
  // Every other rule: write all L pairs with its fused op, then read the final W with q.
  const FastWeightRule& rule = fast_weight_rule(config_.rule);
  Tensor v = one_hot(repeat_each(batch.values, n), S, dtype_)  // one-hot, made on the host
                 .to(embedding_.device())
                 .reshape({B, 1, L * n, S});
  RuleArgs args;
  args.v = Variable(v);
  args.clamp_first_step = false;                                         // as the authors' code
  for (size_t i = 0; i < gates_.size(); ++i)
    args.gates.push_back(sigmoid(reshape(project_pairs(*gates_[i], batch), {B, 1, -1})));
  if (rule.sum_normalize) {
    k = sum_normalize(k, config_.eps);
    q = sum_normalize(q, config_.eps);
  }
  args.k = reshape(k, {B, 1, L * n, Ddot});
  Variable W = reshape(rule.fused(args).state, {B, S, Ddot});
  return rule.read_out(reshape(matmul(W, reshape(q, {B, Ddot, 1})), {B, S}));
}

Variable RetrievalModel::forward_reference(const RetrievalBatch& batch) {
  const int64_t B = batch.batch(), L = batch.length(), S = config_.S;
  Variable v(one_hot(batch.values, S, dtype_).to(embedding_.device()));         // (B, L, S)
  Variable x = concat({v, embedding(embedding_, batch.keys)}, -1);             // (B, L, S + e)
  const int64_t n = writes_per_token(config_);
  Variable k = reshape(key_->forward(x), {B, L * n, config_.d_key});            // (B, L n, Dk)
  Variable q = query_->forward(embedding(embedding_, batch.query));             // (B, Dk)
  if (config_.softmax) {
    Variable a = softmax(matmul(k, reshape(q, {B, -1, 1})) / std::sqrt(double(config_.d_key)), 1);
    return reshape(matmul(v, a, true, false), {B, S});
  }
  phi_->begin_forward();
  k = phi_->forward(k);
  q = phi_->forward(q);                                                         // (B, Ddot)
  const int64_t Ddot = k.size(-1);
  const FastWeightRule& rule = fast_weight_rule(config_.rule);
  Variable vn = n == 1 ? v
                       : Variable(one_hot(repeat_each(batch.values, n), S, dtype_)
                                      .to(embedding_.device()));
  RuleArgs args;
  args.v = reshape(vn, {B, 1, L * n, S});
  args.attention_normalize = rule.attention_normalize;
  args.eps = config_.eps;
  args.clamp_first_step = false;
  for (size_t i = 0; i < gates_.size(); ++i)
    args.gates.push_back(sigmoid(reshape(gates_[i]->forward(x), {B, 1, -1})));
  if (rule.sum_normalize) {
    k = sum_normalize(k, config_.eps);
    q = sum_normalize(q, config_.eps);
  }
  args.k = reshape(k, {B, 1, L * n, Ddot});
  RuleResult r = rule.reference(args);                                          // write only
  Variable qc = reshape(q, {B, Ddot, 1});
  Variable y = matmul(reshape(r.state, {B, S, Ddot}), qc);                      // W_L q: (B, S, 1)
  if (args.attention_normalize)                                                 // / (z . q + eps)
    y = y / (matmul(reshape(r.z, {B, 1, Ddot}), qc) + config_.eps);
  return rule.read_out(reshape(y, {B, S}));
}

Variable RetrievalModel::loss(const Variable& yhat, const Indices& target) const {
  const int64_t B = yhat.size(0);
  FWP_CHECK_SHAPE(target.numel() == B, "RetrievalModel::loss: need ", B, " targets, got ",
                  target.numel());
  Variable diff = yhat - Variable(one_hot(target, config_.S, yhat.dtype()).to(yhat.device()));
  return sum(square(diff)) * (0.5 / double(B));
}

}  // namespace fwp::synthetic
