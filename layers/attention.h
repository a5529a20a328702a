// The attention family of fwp (the math: docs/THEORY.md sections 2-6). One config chooses any
// combination the paper studies:
//   kind      softmax (the baseline) | fast_weight
//   rule      any rule of the table in layers/fast_weight_rules.h, e.g. sum (linear
//             attention) | delta (section 6.2) | fwm (delta write, Frobenius clamp, LayerNorm
//             read-out: the FWM baseline of Schlag, Munkhdalai & Schmidhuber 2021) |
//             gated_delta (the delta rule with a learned decay alpha_t: Yang et al., ICLR 2025)
//   phi       identity | linear | favor | dpfp | tanh          (layers/feature_maps.h)
//   sum_normalize        k, q <- phi / sum(phi)               (proposed with the delta rule)
//   attention_normalize  y_t <- y_t / (z_t . q_t + eps), z_t = sum_{s<=t} k_s  (linear attention's)
// Per head of width d_head a fast-weight layer computes, from x (B, T, D), with the rule's
// descriptor (fast_weight_rules.h) deciding n = writes per token and the gates:
//   [q, k_1..k_n, v_1..v_n, gate logits] = x P   (one bias-free projection D -> H (d_head +
//       2 n d_head + the rule's gate logits); the delta rule: H (3 d_head + 1), [q, k, v, b])
//   q, k <- phi(.), optionally sum-normalised;  beta = sigmoid(b)
//   a decay gate (gated_delta's alpha) = sigmoid(a + c_h) with a learned per-head bias c_h
//       ("alpha_bias"), see SelfAttention's constructor
//   y = rule.fused(q, k, v, gates; W0), then the rule's read-out
//   out = (y / sqrt(d_head)) O    (bias-free O; the 1/sqrt(d_head) scale of the LM code)
// State: passing an AttentionState carries W (and z) from one segment to the next ("carry
// over") and is how recurrent generation runs one token at a time in O(1) memory per token.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/fast_weight_rules.h"
#include "layers/feature_maps.h"
#include "layers/linear.h"

namespace fwp {

enum class AttentionKind { softmax, fast_weight };

struct AttentionConfig {
  AttentionKind kind = AttentionKind::fast_weight;
  UpdateRule rule = UpdateRule::delta;
  FeatureMapConfig phi;
  bool sum_normalize = true;
  bool attention_normalize = false;
  double eps = 1e-6;
  int64_t n_heads = 8;
  int64_t d_head = 16;
  bool output_scale = true;  // multiply by 1/sqrt(d_head) before O (fast weights only)

  // The paper's named variants: "softmax", "linear" (Katharopoulos: linear phi, sum rule,
  // attention normalisation), "delta" (Delta Net: linear phi, delta rule, sum normalisation),
  // "performer" (favor, sum rule), "dpfp" (dpfp, sum rule), "dpfp_delta", "favor_delta",
  // "fwm" (tanh phi, FWM rule, no normalisation), "gated_delta" and "dpfp_gated_delta" (linear or
  // dpfp phi, gated delta rule, sum normalisation: Gated DeltaNet's rule in the Delta Net layer).
  // Besides, the name of every rule of fast_weight_rules.h is a preset: that rule with the
  // feature map and normalisations of its descriptor.
  static AttentionConfig preset(const std::string& name, int64_t n_heads, int64_t d_head);
  // Every name preset() accepts, in the order above (programs list them in --help; tests loop
  // over them, so a preset added here is tested and usable by name everywhere).
  static const std::vector<std::string>& preset_names();
  std::string describe() const;  // one line, e.g. "fast_weight delta phi=linear sum_norm"
};

std::string to_string(AttentionKind kind);
AttentionKind attention_kind_from_string(const std::string& name);

// What one attention layer carries between segments / generation steps.
//   fast weights: W (B, H, d_head, Ddot) and, with attention normalisation, z (B, H, Ddot)
//   softmax:      the keys and values seen so far, (B, H, T_past, d_head) each
struct AttentionState {
  Variable W, z;
  Variable keys, values;
  int64_t length = 0;  // tokens seen so far
  void detach();       // cut the gradient at the segment boundary ("carry over")
  // Every tensor above, all batch-first, for code that reorders rows (beam search). A new kind
  // of state must be listed here too.
  std::vector<Variable*> tensors() { return {&W, &z, &keys, &values}; }
};

class SelfAttention : public Module {
 public:
  SelfAttention(int64_t d_model, const AttentionConfig& config, bool causal, Rng& rng,
                uint64_t feature_seed, DType dtype = DType::f32);
  // x (B, T, D) -> (B, T, D). With a state: continues from it and updates it in place.
  // key_valid (B, T), optional, non-causal only: 1 for real tokens, 0 for padding to ignore.
  Variable forward(const Variable& x, AttentionState* state = nullptr,
                   const Tensor& key_valid = Tensor());
  const AttentionConfig& config() const { return config_; }

 private:
  Variable fast_weight_heads(Variable q, Variable k, const Variable& v,
                             std::vector<Variable> gates, AttentionState* state,
                             const Tensor& key_valid);
  // The projection's parts per head, in order: q, k, v (n d_head each for n writes per token),
  // then the rule's gate logits; and their total.
  std::vector<int64_t> head_parts() const;
  int64_t head_width() const;
  AttentionConfig config_;
  bool causal_;
  int64_t d_model_;
  std::shared_ptr<Linear> qkvb_, out_;
  std::shared_ptr<FeatureMap> phi_;
  const FastWeightRule* rule_ = nullptr;  // fast weights only
  std::vector<Variable> gate_bias_;        // per gate of the rule: (H) for a decay, else undefined
};

// What cross-attention keeps between generation steps, computed from the memory at the first
// step: softmax keeps the memory's keys and values (B, H, S, d_head); the sum rule keeps the fast
// weight W = sum_s phi(k_s) v_s^T (B, H, Ddot, d_head) and z = sum_s phi(k_s) (B, H, 1, Ddot).
// All batch-first, so a beam search reorders them like any decoder state.
struct CrossAttentionCache {
  Variable keys, values;
  Variable W, z;
  std::vector<Variable*> tensors() { return {&keys, &values, &W, &z}; }  // as AttentionState's
};

// Encoder-decoder attention: queries from x (B, T, D), keys and values from memory (B, S, D).
// Non-causal; fast weights use the sum rule over the whole memory (W = sum_s v_s phi(k_s)^T).
class CrossAttention : public Module {
 public:
  CrossAttention(int64_t d_model, const AttentionConfig& config, Rng& rng, uint64_t feature_seed,
                 DType dtype = DType::f32);
  // memory_valid (B, S), optional: 1 for real memory tokens, 0 for padding.
  // With a cache (generation): the memory's part is computed once, at the first call, and
  // reused (with FAVOR+'s draw of that call); the memory must stay the same, row for row.
  Variable forward(const Variable& x, const Variable& memory, const Tensor& memory_valid = Tensor(),
                   CrossAttentionCache* cache = nullptr);

 private:
  AttentionConfig config_;
  int64_t d_model_;
  std::shared_ptr<Linear> q_, kv_, out_;
  std::shared_ptr<FeatureMap> phi_;
};

// The heads of both attention classes, (B, H, T, d_head) in and out.
// Softmax attention; `offset` = number of earlier keys in k/v before the first query (generation).
// The fused op (autograd/softmax_attention_op.h, O(T) saved per head) on the CPU or the GPU; the
// composed version (matmul, masked_fill, softmax, matmul) is kept as the reference it is tested
// against.
Variable softmax_attention(const Variable& q, const Variable& k, const Variable& v, bool causal,
                           int64_t offset, const Tensor& key_valid);
Variable softmax_attention_composed(const Variable& q, const Variable& k, const Variable& v,
                                    bool causal, int64_t offset, const Tensor& key_valid);
// Non-causal fast weights with the sum rule: W = sum_s v_s k_s^T over all keys, y_t = W q_t
// (divided by z . q_t + eps, z = sum_s k_s, when attention_normalize).
Variable global_sum_rule(const Variable& q, const Variable& k, const Variable& v,
                         bool attention_normalize, double eps, const Tensor& key_valid);
// The same in two halves: the write W = sum_s k_s v_s^T (B, H, Ddot, d), z = sum_s k_s
// (B, H, 1, Ddot) over the real keys, then the read y_t = W^T q_t (/ (z . q_t + eps)).
void global_sum_rule_write(const Variable& k, const Variable& v, const Tensor& key_valid,
                           Variable& W, Variable& z);
Variable global_sum_rule_read(const Variable& q, const Variable& W, const Variable& z,
                              bool attention_normalize, double eps);

// Sinusoidal position encodings (Vaswani et al. 2017) for positions offset .. offset+T-1: (T, D).
Tensor sinusoidal_positions(int64_t T, int64_t D, int64_t offset, DType dtype);

}  // namespace fwp
