// The fast-weight update rules as one concept: a descriptor per rule, all of them in one table
// (at the end of this file). Whatever used to switch on the rule reads its descriptor instead:
//   SelfAttention (layers/attention.cpp; the language model's layers and the translation
//     model's decoder): the projection's width and split, the gate parameters and their
//     initialisation, the op per head, the one-step form for generation, the read-out;
//   the synthetic retrieval model (experiments/synthetic/retrieval_model.cpp): its projections
//     and the op, fused and composed;
//   config parsing and names: JSON and --rule (name), the presets, the synthetic experiment
//     names <phi>_<short_name>.
// Adding a rule is its ops (a kernel pair and an autograd op with a composed reference) plus,
// in this file, one enumerator, how the rule calls its op and one entry in the table;
// docs/EXTENDING.md walks through it.
#pragma once
#include <array>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "autograd/delta_product_op.h"
#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/fwm_rule_op.h"
#include "autograd/gated_delta_rule_op.h"
#include "autograd/variable.h"
#include "layers/feature_maps.h"

namespace fwp {

// The rules, in the order of the table. `count` is not a rule: the guard below the table holds
// it against the table's length at compile time (as ggml does with GGML_OP_COUNT), so an
// enumerator added here without its entry there does not compile.
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

// ---------------------------------------------------------------- the table
// How each rule calls its ops (fused or composed), then one descriptor per rule, then the
// compile-time guard that keeps the table and the enum in step. fast_weight_rule() and
// fast_weight_rules() above are how the rest of fwp reads it.
namespace rule_table {

// The ops read y_t = W_t q_t after every write. A write-only caller (q undefined) gets no y; the
// ops that need a query are given k in its place, and the y it produces is dropped.
inline const Variable& query_or_key(const RuleArgs& a) { return a.q.defined() ? a.q : a.k; }
inline Variable y_if_read(const RuleArgs& a, const Variable& y) {
  return a.q.defined() ? y : Variable();
}

// The LM code's optional denominator on top of the delta rule: y_t / (z_t . q_t + eps) with
// z_t = z0 + sum_{s<=t} k_s; z_T becomes the carried z.
inline void divide_by_key_sum(const RuleArgs& a, RuleResult& r) {
  if (!a.attention_normalize || !a.q.defined()) return;
  Variable z = cumsum(a.k, 2);                                          // (B, H, T, Ddot)
  if (a.z0.defined()) z = z + reshape(a.z0, {a.z0.size(0), a.z0.size(1), 1, a.z0.size(2)});
  r.y = r.y / (sum(z * a.q, {-1}, true) + a.eps);
  r.z = reshape(slice(z, 2, z.size(2) - 1, z.size(2)), {z.size(0), z.size(1), z.size(3)});
}

// Each rule's call, fused (Fused = true) or composed.
template <bool Fused>
RuleResult sum_call(const RuleArgs& a) {
  SumRuleResult r = (Fused ? sum_rule : sum_rule_reference)(query_or_key(a), a.k, a.v,
                                                            a.attention_normalize, a.eps, a.W0, a.z0);
  return {y_if_read(a, r.y), r.state, r.z};
}

template <bool Fused>
RuleResult delta_call(const RuleArgs& a) {
  DeltaRuleResult r = (Fused ? delta_rule : delta_rule_reference)(query_or_key(a), a.k, a.v,
                                                                  a.gates[0], a.W0);
  RuleResult out{y_if_read(a, r.y), r.state, {}};
  divide_by_key_sum(a, out);
  return out;
}

template <bool Fused>
RuleResult fwm_call(const RuleArgs& a) {
  FwmRuleResult r = (Fused ? fwm_rule : fwm_rule_reference)(a.q, a.k, a.v, a.gates[0], a.W0,
                                                            a.clamp_first_step);
  return {r.y, r.state, {}};
}

template <bool Fused>
RuleResult gated_delta_call(const RuleArgs& a) {
  GatedDeltaRuleResult r = (Fused ? gated_delta_rule : gated_delta_rule_reference)(
      query_or_key(a), a.k, a.v, a.gates[0], a.gates[1], a.W0);
  return {y_if_read(a, r.y), r.state, {}};
}

// DeltaProduct with n_h = 2 writes per token (the paper's smallest product beyond the delta rule).
inline constexpr int64_t kDeltaProductWrites = 2;

template <bool Fused>
RuleResult delta_product_call(const RuleArgs& a) {
  DeltaProductResult r = (Fused ? delta_product : delta_product_reference)(
      a.q, a.k, a.v, a.gates[0], kDeltaProductWrites, a.W0);
  return {r.y, r.state, {}};
}

inline constexpr RuleGate kBeta{.name = "beta", .per_write = false, .init = GateInit::projection};
inline constexpr RuleGate kBetaPerWrite{.name = "beta", .per_write = true,
                                        .init = GateInit::projection};
inline constexpr RuleGate kAlpha{.name = "alpha", .per_write = false, .init = GateInit::decay};

// The table, in enum order. Every field is documented with FastWeightRule above.
inline constexpr FastWeightRule kRules[] = {
    {.id = UpdateRule::sum, .name = "sum", .short_name = "sum",
     .paper = "linear attention (Katharopoulos et al. 2020) as a fast weight programmer",
     .writes = 1, .gate_list = {}, .n_gates = 0,
     .phi = FeatureMapKind::linear, .sum_normalize = false, .attention_normalize = true,
     .allows_attention_normalize = true, .non_causal = true, .layer_norm_readout = false,
     .fused = sum_call<true>, .reference = sum_call<false>,
     .step = sum_call<true>,
     .kernels = "kernels/sum_rule.h", .cuda = true},
    {.id = UpdateRule::delta, .name = "delta", .short_name = "delta",
     .paper = "the delta rule (Schlag, Irie & Schmidhuber 2021, Sec. 4)",
     .writes = 1, .gate_list = {kBeta}, .n_gates = 1,
     .phi = FeatureMapKind::linear, .sum_normalize = true, .attention_normalize = false,
     .allows_attention_normalize = true, .non_causal = false, .layer_norm_readout = false,
     .fused = delta_call<true>, .reference = delta_call<false>,
     .step = delta_call<true>,
     .kernels = "kernels/delta_rule.h", .cuda = true},
    {.id = UpdateRule::fwm, .name = "fwm", .short_name = "fwm",
     .paper = "the Fast Weight Memory (Schlag, Munkhdalai & Schmidhuber 2021)",
     .writes = 1, .gate_list = {kBeta}, .n_gates = 1,
     .phi = FeatureMapKind::tanh, .sum_normalize = false, .attention_normalize = false,
     .allows_attention_normalize = false, .non_causal = false, .layer_norm_readout = true,
     .fused = fwm_call<true>, .reference = fwm_call<false>,
     .step = fwm_call<true>,
     .kernels = "kernels/fwm_rule.h", .cuda = false},
    {.id = UpdateRule::gated_delta, .name = "gated_delta", .short_name = "gdelta",
     .paper = "the gated delta rule (Yang, Kautz & Hatamizadeh, ICLR 2025)",
     .writes = 1, .gate_list = {kBeta, kAlpha}, .n_gates = 2,
     .phi = FeatureMapKind::linear, .sum_normalize = true, .attention_normalize = false,
     .allows_attention_normalize = false, .non_causal = false, .layer_norm_readout = false,
     .fused = gated_delta_call<true>, .reference = gated_delta_call<false>,
     .step = gated_delta_call<true>,
     .kernels = "kernels/gated_delta_rule.h", .cuda = true},
    {.id = UpdateRule::delta_product, .name = "delta_product", .short_name = "dprod",
     .paper = "DeltaProduct, n_h = 2 delta steps per token (Siems et al. 2025)",
     .writes = kDeltaProductWrites, .gate_list = {kBetaPerWrite}, .n_gates = 1,
     .phi = FeatureMapKind::linear, .sum_normalize = true, .attention_normalize = false,
     .allows_attention_normalize = false, .non_causal = false, .layer_norm_readout = false,
     .fused = delta_product_call<true>, .reference = delta_product_call<false>,
     .step = delta_product_call<true>,
     .kernels = "kernels/delta_product.h", .cuda = true},
};

// The guard: one entry per enumerator, in enum order, each complete.
static_assert(std::size(kRules) == size_t(UpdateRule::count),
              "fast_weight_rules: every UpdateRule needs its entry in kRules (and only one)");
constexpr bool table_is_complete() {
  for (size_t i = 0; i < std::size(kRules); ++i) {
    const FastWeightRule& r = kRules[i];
    // (The op pointers are checked by a test: with -fsanitize, GCC does not take a function's
    // address as a constant.)
    if (r.id != UpdateRule(i) || !r.name || !r.short_name || !r.paper || r.writes < 1 ||
        r.n_gates < 0 || r.n_gates > int(r.gate_list.size()) || !r.kernels)
      return false;
    for (const char* c = r.short_name; *c; ++c)
      if (*c == '_') return false;  // the synthetic names split <phi>_<short_name> at the last '_'
    for (int g = 0; g < r.n_gates; ++g)  // a decay's bias is per head: one decay per token
      if (r.gate_list[size_t(g)].init == GateInit::decay && r.gate_list[size_t(g)].per_write)
        return false;
  }
  return true;
}
static_assert(table_is_complete(),
              "fast_weight_rules: kRules must list the rules in enum order, every field filled, "
              "short names without '_', decay gates one per token");

}  // namespace rule_table

}  // namespace fwp
