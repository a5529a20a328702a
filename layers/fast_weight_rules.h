// The fast-weight update rules as one concept: a descriptor per rule, all of them in one table
// (fast_weight_rules.cpp). Whatever used to switch on the rule reads its descriptor instead:
//   SelfAttention (layers/attention.cpp; the language model's layers and the translation
//     model's decoder): the projection's width and split, the gate parameters and their
//     initialisation, the op per head, the one-step form for generation, the read-out;
//   the synthetic retrieval model (experiments/synthetic/retrieval_model.cpp): its projections
//     and the op, fused and composed;
//   config parsing and names: JSON and --rule (name), the presets, the synthetic experiment
//     names <phi>_<short_name>.
// Adding a rule is its ops (a kernel pair and an autograd op with a composed reference) plus one
// enumerator below and one entry in the table; docs/EXTENDING.md walks through it.
#pragma once
#include <array>
#include <span>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "layers/feature_maps.h"

namespace fwp {

// The rules, in the order of the table. `count` is not a rule: fast_weight_rules.cpp holds it
// against the table's length at compile time (as ggml does with GGML_OP_COUNT), so an enumerator
// added here without its entry there does not compile.
enum class UpdateRule { sum, delta, fwm, gated_delta, delta_product, count };

// How the bias of a gate's logit starts.
enum class GateInit {
  projection,  // no bias of its own: the gate is sigmoid(the projection's output), like beta
  decay,       // a decay alpha = sigmoid(logit + c), one per token, that starts near 1: c = decay_gate_bias(h)
               // gives 1 - alpha = 1 / h at logit 0, an initial memory horizon of h steps;
               // each model chooses its horizons (SelfAttention's constructor, RetrievalModel's)
};

// A per-step input of a rule in (0, 1), computed from the layer's input as sigmoid(logit [+ c]).
struct RuleGate {
  const char* name;  // "beta", "alpha": the layers name their parameters after it
  bool per_write;    // one per write (for rules that write several pairs per token) or per token
  GateInit init;
};

// What a rule's ops get. Per (batch, head); T tokens, `writes` (key, value) pairs per token.
struct RuleArgs {
  Variable q;  // (B, H, T, Ddot), or undefined: write only (the synthetic model reads W_T itself)
  Variable k;  // (B, H, T * writes, Ddot): the writes of token t are rows t * writes .. + writes-1
  Variable v;  // (B, H, T * writes, Dv)
  std::vector<Variable> gates;  // one per RuleGate, in its order, squashed: (B, H, T [* writes])
  Variable W0, z0;              // the carried state (B, H, Dv, Ddot) and (B, H, Ddot), or undefined
  bool attention_normalize = false;  // y_t / (z_t . q_t + eps), z_t = z0 + sum_{s<=t} k_s
  double eps = 1e-6;
  bool clamp_first_step = true;  // fwm only: false skips the clamp at t = 1 (the authors' synthetic code)
};

struct RuleResult {
  Variable y;      // (B, H, T, Dv), undefined when q is; before the read-out (read_out below)
  Variable state;  // W_T, (B, H, Dv, Ddot)
  Variable z;      // z_T (B, H, Ddot) where the rule keeps one (sum; delta with attention_normalize)
};

using RuleFn = RuleResult (*)(const RuleArgs&);

struct FastWeightRule {
  UpdateRule id;
  const char* name;        // in configs, JSON, presets and fwp-lm's --rule: "gated_delta"
  const char* short_name;  // in the synthetic experiment names <phi>_<short_name>: "gdelta"
  const char* paper;       // where the rule comes from, for --help and docs
  int64_t writes;          // (key, value) pairs written per token (1: one write per token)
  std::array<RuleGate, 2> gate_list;
  int n_gates;
  // How the rule is used unless a config says otherwise (the presets, the synthetic model):
  FeatureMapKind phi;
  bool sum_normalize;        // k, q <- phi / sum(phi)   (the delta rules)
  bool attention_normalize;  // y / (z . q + eps)        (the sum rule)
  // What the rule allows:
  bool allows_attention_normalize;  // only sum and delta keep the denominator's z_t = sum k_s
  bool non_causal;                  // has a whole-sequence (encoder) form: the sum rule only
  bool layer_norm_readout;          // y_t = LayerNorm(W_t q_t) without affine (FWM)
  // The math:
  RuleFn fused;      // the fused op with its hand-derived backward: what the models train with
  RuleFn reference;  // the same math composed from autograd primitives one step at a time:
                     // slow, O(T Dv Ddot) on the tape, what the fused op is tested against
  RuleFn step;       // one token from the carried state, for generation (T = 1); every rule
                     // here uses its fused op, tested against the parallel forward
  // Its kernels, for a reader: the header that declares the CPU kernels (*_cpu), their plain-loop
  // twins (*_naive) and, where `cuda` is set, the CUDA twins (*_cuda) that the fused op runs on
  // device tensors (FWP_CUDA builds; the op picks them by the tensors' device).
  const char* kernels;
  bool cuda;

  std::span<const RuleGate> gates() const { return {gate_list.data(), size_t(n_gates)}; }
  // The logits a layer projects per head for the gates: sum of (per_write ? writes : 1).
  int64_t gate_logits() const;
  Variable read_out(const Variable& y) const;  // LayerNorm for FWM, y itself otherwise
};

// The descriptor of a rule, and all of them in enum order.
const FastWeightRule& fast_weight_rule(UpdateRule rule);
std::span<const FastWeightRule> fast_weight_rules();

std::string to_string(UpdateRule rule);  // the name
UpdateRule update_rule_from_string(const std::string& name);
UpdateRule update_rule_from_short_name(const std::string& short_name);
// "sum, delta, fwm, gated_delta or delta_product" (or the short names), for messages.
std::string update_rule_names(bool short_names = false);

// The initial bias c of a decay gate for a memory horizon of h > 1 steps: sigmoid(c) = 1 - 1/h,
// c = ln(h - 1).
double decay_gate_bias(double horizon);

}  // namespace fwp
