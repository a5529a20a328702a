// Attention layers: projections, head reshapes, and the per-head math (softmax, the fused
// fast-weight rules, or the non-causal sum rule).
#include "layers/attention.h"

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "autograd/softmax_attention_op.h"
#include "core/functional.h"

namespace fwp {

// ------------------------------------------------------------------ config

std::string to_string(AttentionKind k) { return k == AttentionKind::softmax ? "softmax" : "fast_weight"; }
AttentionKind attention_kind_from_string(const std::string& name) {
  if (name == "softmax") return AttentionKind::softmax;
  if (name == "fast_weight") return AttentionKind::fast_weight;
  throw Error(cat("unknown attention kind '", name, "' (expected softmax or fast_weight)"));
}

AttentionConfig AttentionConfig::preset(const std::string& name, int64_t n_heads, int64_t d_head) {
  AttentionConfig c;
  c.n_heads = n_heads;
  c.d_head = d_head;
  // A rule with the feature map phi and the normalisations its descriptor names.
  auto use = [&](UpdateRule rule, FeatureMapKind phi) {
    const FastWeightRule& r = fast_weight_rule(rule);
    c.rule = rule;
    c.phi.kind = phi;
    c.sum_normalize = r.sum_normalize;
    c.attention_normalize = r.attention_normalize;
  };
  if (name == "softmax") c.kind = AttentionKind::softmax;
  else if (name == "linear") use(UpdateRule::sum, FeatureMapKind::linear);
  else if (name == "performer") use(UpdateRule::sum, FeatureMapKind::favor);
  else if (name == "dpfp") use(UpdateRule::sum, FeatureMapKind::dpfp);
  else if (name == "dpfp_delta") use(UpdateRule::delta, FeatureMapKind::dpfp);
  else if (name == "favor_delta") use(UpdateRule::delta, FeatureMapKind::favor);
  else if (name == "dpfp_gated_delta") use(UpdateRule::gated_delta, FeatureMapKind::dpfp);
  else {
    bool found = false;  // a rule's own name: "delta", "fwm", "gated_delta", ...
    for (const FastWeightRule& r : fast_weight_rules())
      if (name == r.name && r.id != UpdateRule::sum) {
        use(r.id, r.phi);
        found = true;
      }
    if (!found) {
      std::string known;
      for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
      throw Error(cat("unknown attention preset '", name, "' (expected one of ", known, ")"));
    }
  }
  if (c.phi.kind == FeatureMapKind::favor) {  // the LM code's FAVOR+ settings
    c.phi.redraw = FavorRedraw::training_only;
    c.phi.favor_eps = 1e-4;
  }
  return c;
}

const std::vector<std::string>& AttentionConfig::preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"softmax",     "linear",      "performer",
                                  "dpfp",        "delta",       "dpfp_delta",
                                  "favor_delta", "fwm",         "gated_delta",
                                  "dpfp_gated_delta"};
    for (const FastWeightRule& r : fast_weight_rules())  // rules added since: by their names
      if (r.id != UpdateRule::sum && std::find(n.begin(), n.end(), r.name) == n.end())
        n.push_back(r.name);
    return n;
  }();
  return names;
}

std::string AttentionConfig::describe() const {
  if (kind == AttentionKind::softmax) return cat("softmax, ", n_heads, " heads x ", d_head);
  std::string phi_name = to_string(phi.kind);
  if (phi.kind == FeatureMapKind::dpfp) phi_name += cat("-", phi.nu);
  if (phi.kind == FeatureMapKind::favor) phi_name += cat("-", phi.m);
  return cat("fast weights, ", to_string(rule), " rule, phi=", phi_name,
             sum_normalize ? ", sum-normalised" : "", attention_normalize ? ", attention-normalised" : "",
             ", ", n_heads, " heads x ", d_head);
}

void AttentionState::detach() {
  if (W.defined()) W = W.detach();
  if (z.defined()) z = z.detach();
  if (keys.defined()) keys = keys.detach();
  if (values.defined()) values = values.detach();
}

// ------------------------------------------------------------------ head math

namespace {
// (B, T, H * d) -> (B, H, T, d)
Variable split_heads(const Variable& x, int64_t H) {
  const int64_t B = x.size(0), T = x.size(1);
  return permute(reshape(x, {B, T, H, x.size(2) / H}), {0, 2, 1, 3});
}
// (B, H, T, d) -> (B, T, H * d)
Variable merge_heads(const Variable& y) {
  const int64_t B = y.size(0), H = y.size(1), T = y.size(2), d = y.size(3);
  return reshape(permute(y, {0, 2, 1, 3}), {B, T, H * d});
}
// key_valid (B, S) -> a (B, 1, S, 1) multiplier for keys like `like` (dtype, device), or undefined.
Tensor key_multiplier(const Tensor& key_valid, int64_t B, int64_t S, const Tensor& like) {
  if (!key_valid.defined()) return Tensor();
  FWP_CHECK_SHAPE(key_valid.shape() == Shape({B, S}), "attention: key_valid must be (B, S) = (", B,
                  ", ", S, "), got ", key_valid.shape());
  return key_valid.to(like.dtype()).to(like.device()).reshape({B, 1, S, 1});
}
}  // namespace

Variable softmax_attention(const Variable& q, const Variable& k, const Variable& v, bool causal,
                           int64_t offset, const Tensor& key_valid) {
  return fused_softmax_attention(q, k, v, causal, offset, key_valid);
}

Variable softmax_attention_composed(const Variable& q, const Variable& k, const Variable& v,
                                    bool causal, int64_t offset, const Tensor& key_valid) {
  const int64_t B = q.size(0), T = q.size(2), S = k.size(2), d = q.size(3);
  Variable scores = matmul(q, k, false, true) * (1.0 / std::sqrt(double(d)));  // (B, H, T, S)
  if (causal) {  // query i (absolute position offset + i) sees keys j <= offset + i
    Tensor mask = Tensor::zeros({T, S}, q.dtype());
    dispatch_dtype(q.dtype(), [&](auto tag) {
      using TT = decltype(tag);
      TT* m = mask.data<TT>();
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = offset + i + 1; j < S; ++j) m[i * S + j] = TT(1);
    });
    scores = masked_fill(scores, mask.to(q.value().device()), -INFINITY);
  }
  if (key_valid.defined()) {
    Tensor pad = add(mul(key_multiplier(key_valid, B, S, q.value()).reshape({B, 1, 1, S}), -1.0), 1.0);
    scores = masked_fill(scores, pad, -INFINITY);
  }
  return matmul(softmax(scores, -1), v);  // (B, H, T, d)
}

void global_sum_rule_write(const Variable& k_in, const Variable& v, const Tensor& key_valid,
                           Variable& W, Variable& z) {
  Variable k = k_in;
  Tensor m = key_multiplier(key_valid, k.size(0), k.size(2), k.value());
  if (m.defined()) k = k * Variable(m);                     // padded keys write nothing
  W = matmul(k, v, true, false);                            // sum_s k_s v_s^T: (B, H, Ddot, d)
  z = sum(k, {2}, true);                                    // (B, H, 1, Ddot)
}

Variable global_sum_rule_read(const Variable& q, const Variable& W, const Variable& z,
                              bool attention_normalize, double eps) {
  Variable y = matmul(q, W);                                // (B, H, T, d)
  if (!attention_normalize) return y;
  return y / (matmul(q, z, false, true) + eps);             // z . q_t: (B, H, T, 1)
}

Variable global_sum_rule(const Variable& q, const Variable& k, const Variable& v,
                         bool attention_normalize, double eps, const Tensor& key_valid) {
  Variable W, z;
  global_sum_rule_write(k, v, key_valid, W, z);
  return global_sum_rule_read(q, W, z, attention_normalize, eps);
}

// ------------------------------------------------------------------ SelfAttention

SelfAttention::SelfAttention(int64_t d_model, const AttentionConfig& config, bool causal, Rng& rng,
                             uint64_t feature_seed, DType dtype)
    : config_(config), causal_(causal), d_model_(d_model) {
  const int64_t H = config.n_heads, dh = config.d_head;
  FWP_CHECK(H > 0 && dh > 0, "SelfAttention: heads and d_head must be positive, got ", H, " x ", dh);
  const bool fw = config.kind == AttentionKind::fast_weight;
  if (fw) rule_ = &fast_weight_rule(config.rule);
  FWP_CHECK(causal || !fw || rule_->non_causal,
            "SelfAttention: a non-causal (encoder) fast-weight layer needs the sum rule, got ",
            to_string(config.rule));
  FWP_CHECK(!fw || !config.attention_normalize || rule_->allows_attention_normalize,
            "SelfAttention: attention_normalize is not defined for the ", rule_ ? rule_->name : "",
            " rule (its denominator z_t = sum k_s is kept by the sum and delta rules only; a "
            "decay or a clamp of W would need the same on z)");
  qkvb_ = register_module("qkvb", std::make_shared<Linear>(d_model, H * head_width(),
                                                            rng, LinearOptions{.bias = false, .dtype = dtype}));
  if (fw) {
    for (const RuleGate& g : rule_->gates()) {
      Variable bias;
      if (g.init == GateInit::decay) {
        // alpha_h = sigmoid(a + c_h); at a = 0, 1 - alpha_h = dt_h, log-spaced over [0.001, 0.1]
        // across the heads (0.01 for one head): initial memory horizons 1 / dt of 10 to 1000
        // tokens, all alpha >= 0.9: the range Mamba-2 and Gated DeltaNet's reference layer draw
        // their step dt from (their decay is exp(-A dt); here A = 1). docs/gated_delta_rule.md.
        std::vector<double> c(H);
        for (int64_t h = 0; h < H; ++h) {
          const double dt = H > 1 ? 0.001 * std::pow(100.0, double(h) / double(H - 1)) : 0.01;
          c[h] = decay_gate_bias(1.0 / dt);
        }
        // ParamInit::own: these values are the initialisation; a model init pass keeps them.
        bias = register_parameter(cat(g.name, "_bias"), Tensor::from_vector(c, {H}, dtype),
                                  ParamInit::own);
      }
      gate_bias_.push_back(bias);
    }
  }
  out_ = register_module("out", std::make_shared<Linear>(H * dh, d_model, rng,
                                                          LinearOptions{.bias = false, .dtype = dtype}));
  if (fw) phi_ = register_module("phi", std::make_shared<FeatureMap>(config.phi, dh, feature_seed, dtype));
}

std::vector<int64_t> SelfAttention::head_parts() const {
  const int64_t dh = config_.d_head;
  if (!rule_) return {dh, dh, dh};  // softmax: q, k, v
  const int64_t n = rule_->writes;
  std::vector<int64_t> sizes = {dh, n * dh, n * dh};  // q, the n keys, the n values
  for (const RuleGate& g : rule_->gates()) sizes.push_back(g.per_write ? n : 1);
  // The sum rule has no gate, but its layers have always projected one beta logit per head that
  // it ignores: kept, so that the initial weights of a seed and old checkpoints stay as they were.
  if (rule_->gates().empty()) sizes.push_back(1);
  return sizes;
}

int64_t SelfAttention::head_width() const {
  int64_t w = 0;
  for (int64_t s : head_parts()) w += s;
  return w;
}

Variable SelfAttention::forward(const Variable& x, AttentionState* state, const Tensor& key_valid) {
  FWP_CHECK_SHAPE(x.dim() == 3 && x.size(2) == d_model_, "SelfAttention: x must be (B, T, D=",
                  d_model_, "), got ", x.shape());
  FWP_CHECK(!(causal_ && key_valid.defined()),
            "SelfAttention: key_valid is for non-causal layers (causal layers never see later pads)");
  const int64_t B = x.size(0), T = x.size(1), H = config_.n_heads, dh = config_.d_head;
  const int64_t n = rule_ ? rule_->writes : 1;
  std::vector<Variable> parts = split(reshape(qkvb_->forward(x), {B, T, H, head_width()}),
                                      head_parts(), 3);
  // (B, T, H, n d) -> (B, H, T n, d): the n keys (values) of token t become rows t n .. t n + n-1
  auto to_heads = [&](const Variable& p) {
    if (n == 1) return permute(p, {0, 2, 1, 3});
    return reshape(permute(reshape(p, {B, T, H, n, dh}), {0, 2, 1, 3, 4}), {B, H, T * n, dh});
  };
  Variable q = permute(parts[0], {0, 2, 1, 3});  // (B, H, T, dh)
  Variable k = to_heads(parts[1]);               // (B, H, T n, dh)
  Variable v = to_heads(parts[2]);
  Variable y;
  if (rule_) {
    std::vector<Variable> gates;  // (B, H, T) per token, (B, H, T n) per write
    for (size_t i = 0; i < rule_->gates().size(); ++i) {
      const bool per_write = rule_->gates()[i].per_write && n > 1;
      Variable logit = per_write ? parts[3 + i] : reshape(parts[3 + i], {B, T, H});
      if (gate_bias_[i].defined()) logit = logit + gate_bias_[i];  // a decay: per token (B, T, H)
      gates.push_back(per_write ? sigmoid(reshape(permute(logit, {0, 2, 1, 3}), {B, H, T * n}))
                                : sigmoid(permute(logit, {0, 2, 1})));
    }
    y = fast_weight_heads(q, k, v, std::move(gates), state, key_valid);
    if (config_.output_scale) y = y * (1.0 / std::sqrt(double(dh)));
  } else {
    int64_t offset = 0;
    if (state) {
      offset = state->length;
      if (state->keys.defined()) {
        k = concat({state->keys, k}, 2);
        v = concat({state->values, v}, 2);
      }
      state->keys = k;
      state->values = v;
    }
    y = softmax_attention(q, k, v, causal_, offset, key_valid);
  }
  if (state) state->length += T;
  return out_->forward(merge_heads(y));
}

Variable SelfAttention::fast_weight_heads(Variable q, Variable k, const Variable& v,
                                          std::vector<Variable> gates, AttentionState* state,
                                          const Tensor& key_valid) {
  phi_->begin_forward();  // FAVOR+: queries and keys of this forward share one draw
  q = phi_->forward(q);
  k = phi_->forward(k);   // (B, H, T n, Ddot)
  if (config_.sum_normalize) {
    q = sum_normalize(q, config_.eps);
    k = sum_normalize(k, config_.eps);
  }
  if (!causal_) return global_sum_rule(q, k, v, config_.attention_normalize, config_.eps, key_valid);
  RuleArgs args{.q = q, .k = k, .v = v, .gates = std::move(gates),
                .W0 = state ? state->W : Variable(), .z0 = state ? state->z : Variable(),
                .attention_normalize = config_.attention_normalize, .eps = config_.eps};
  // generation: one token from the carried state
  const RuleFn op = state && q.size(2) == 1 ? rule_->step : rule_->fused;
  RuleResult r = op(args);
  if (state) {
    state->W = r.state;
    if (r.z.defined()) state->z = r.z;
  }
  return rule_->read_out(r.y);
}

// ------------------------------------------------------------------ CrossAttention

CrossAttention::CrossAttention(int64_t d_model, const AttentionConfig& config, Rng& rng,
                               uint64_t feature_seed, DType dtype)
    : config_(config), d_model_(d_model) {
  const int64_t H = config.n_heads, dh = config.d_head;
  FWP_CHECK(config.kind == AttentionKind::softmax || config.rule == UpdateRule::sum,
            "CrossAttention: fast-weight cross-attention uses the sum rule, got ", to_string(config.rule));
  LinearOptions no_bias{.bias = false, .dtype = dtype};
  q_ = register_module("q", std::make_shared<Linear>(d_model, H * dh, rng, no_bias));
  kv_ = register_module("kv", std::make_shared<Linear>(d_model, 2 * H * dh, rng, no_bias));
  out_ = register_module("out", std::make_shared<Linear>(H * dh, d_model, rng, no_bias));
  if (config.kind == AttentionKind::fast_weight)
    phi_ = register_module("phi", std::make_shared<FeatureMap>(config.phi, dh, feature_seed, dtype));
}

Variable CrossAttention::forward(const Variable& x, const Variable& memory, const Tensor& memory_valid,
                                 CrossAttentionCache* cache) {
  FWP_CHECK_SHAPE(x.dim() == 3 && memory.dim() == 3 && x.size(2) == d_model_ &&
                      memory.size(2) == d_model_ && x.size(0) == memory.size(0),
                  "CrossAttention: x (B, T, D=", d_model_, ") and memory (B, S, D) required, got x=",
                  x.shape(), " memory=", memory.shape());
  const int64_t B = memory.size(0), S = memory.size(1), H = config_.n_heads, dh = config_.d_head;
  const bool softmax = config_.kind == AttentionKind::softmax;
  const bool cached = cache && (softmax ? cache->keys.defined() : cache->W.defined());
  Variable q = split_heads(q_->forward(x), H);  // (B, H, T, dh)
  Variable k, v;                                // (B, H, S, dh), unless cached
  if (!cached) {
    std::vector<Variable> kv = split(reshape(kv_->forward(memory), {B, S, H, 2 * dh}), {dh, dh}, 3);
    k = permute(kv[0], {0, 2, 1, 3});
    v = permute(kv[1], {0, 2, 1, 3});
  }
  Variable y;
  if (softmax) {
    if (cache && cached) {
      k = cache->keys;
      v = cache->values;
    } else if (cache) {
      cache->keys = k;
      cache->values = v;
    }
    y = softmax_attention(q, k, v, /*causal=*/false, 0, memory_valid);
  } else {
    if (!cached) phi_->begin_forward();  // FAVOR+: cached keys and later queries share one draw
    q = phi_->forward(q);
    if (config_.sum_normalize) q = sum_normalize(q, config_.eps);
    Variable W, z;
    if (cached) {
      W = cache->W;
      z = cache->z;
    } else {
      k = phi_->forward(k);
      if (config_.sum_normalize) k = sum_normalize(k, config_.eps);
      global_sum_rule_write(k, v, memory_valid, W, z);
      if (cache) {
        cache->W = W;
        cache->z = z;
      }
    }
    y = global_sum_rule_read(q, W, z, config_.attention_normalize, config_.eps);
    if (config_.output_scale) y = y * (1.0 / std::sqrt(double(dh)));
  }
  return out_->forward(merge_heads(y));
}

Tensor sinusoidal_positions(int64_t T, int64_t D, int64_t offset, DType dtype) {
  std::vector<double> pe(T * D);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < D; i += 2) {
      double angle = double(offset + t) / std::pow(10000.0, double(i) / double(D));
      pe[t * D + i] = std::sin(angle);
      if (i + 1 < D) pe[t * D + i + 1] = std::cos(angle);
    }
  return Tensor::from_vector(pe, {T, D}, dtype);
}

}  // namespace fwp
