// The table of fast-weight update rules (fast_weight_rules.h): how each rule calls its ops, then
// one descriptor per rule, then the compile-time guard that keeps the table and the enum in step.
#include "layers/fast_weight_rules.h"

#include <cmath>
#include <iterator>

#include "autograd/delta_product.h"
#include "autograd/fast_weight.h"
#include "autograd/functions.h"
#include "autograd/fwm_rule.h"
#include "autograd/gated_delta_rule.h"
#include "core/error.h"

namespace fwp {

namespace {

// The ops read y_t = W_t q_t after every write. A write-only caller (q undefined) gets no y; the
// ops that need a query are given k in its place, and the y it produces is dropped.
const Variable& query_or_key(const RuleArgs& a) { return a.q.defined() ? a.q : a.k; }
Variable y_if_read(const RuleArgs& a, const Variable& y) { return a.q.defined() ? y : Variable(); }

// The LM code's optional denominator on top of the delta rule: y_t / (z_t . q_t + eps) with
// z_t = z0 + sum_{s<=t} k_s; z_T becomes the carried z.
void divide_by_key_sum(const RuleArgs& a, RuleResult& r) {
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
constexpr int64_t kDeltaProductWrites = 2;

template <bool Fused>
RuleResult delta_product_call(const RuleArgs& a) {
  DeltaProductResult r = (Fused ? delta_product : delta_product_reference)(
      a.q, a.k, a.v, a.gates[0], kDeltaProductWrites, a.W0);
  return {r.y, r.state, {}};
}

constexpr RuleGate kBeta{.name = "beta", .per_write = false, .init = GateInit::projection};
constexpr RuleGate kBetaPerWrite{.name = "beta", .per_write = true, .init = GateInit::projection};
constexpr RuleGate kAlpha{.name = "alpha", .per_write = false, .init = GateInit::decay};

// The table, in enum order. Every field is documented in fast_weight_rules.h.
constexpr FastWeightRule kRules[] = {
    {.id = UpdateRule::sum, .name = "sum", .short_name = "sum",
     .paper = "linear attention (Katharopoulos et al. 2020) as a fast weight programmer",
     .writes = 1, .gate_list = {}, .n_gates = 0,
     .phi = FeatureMapKind::linear, .sum_normalize = false, .attention_normalize = true,
     .allows_attention_normalize = true, .non_causal = true, .layer_norm_readout = false,
     .fused = sum_call<true>, .reference = sum_call<false>, .step = sum_call<true>},
    {.id = UpdateRule::delta, .name = "delta", .short_name = "delta",
     .paper = "the delta rule (Schlag, Irie & Schmidhuber 2021, Sec. 4)",
     .writes = 1, .gate_list = {kBeta}, .n_gates = 1,
     .phi = FeatureMapKind::linear, .sum_normalize = true, .attention_normalize = false,
     .allows_attention_normalize = true, .non_causal = false, .layer_norm_readout = false,
     .fused = delta_call<true>, .reference = delta_call<false>, .step = delta_call<true>},
    {.id = UpdateRule::fwm, .name = "fwm", .short_name = "fwm",
     .paper = "the Fast Weight Memory (Schlag, Munkhdalai & Schmidhuber 2021)",
     .writes = 1, .gate_list = {kBeta}, .n_gates = 1,
     .phi = FeatureMapKind::tanh, .sum_normalize = false, .attention_normalize = false,
     .allows_attention_normalize = false, .non_causal = false, .layer_norm_readout = true,
     .fused = fwm_call<true>, .reference = fwm_call<false>, .step = fwm_call<true>},
    {.id = UpdateRule::gated_delta, .name = "gated_delta", .short_name = "gdelta",
     .paper = "the gated delta rule (Yang, Kautz & Hatamizadeh, ICLR 2025)",
     .writes = 1, .gate_list = {kBeta, kAlpha}, .n_gates = 2,
     .phi = FeatureMapKind::linear, .sum_normalize = true, .attention_normalize = false,
     .allows_attention_normalize = false, .non_causal = false, .layer_norm_readout = false,
     .fused = gated_delta_call<true>, .reference = gated_delta_call<false>,
     .step = gated_delta_call<true>},
    {.id = UpdateRule::delta_product, .name = "delta_product", .short_name = "dprod",
     .paper = "DeltaProduct, n_h = 2 delta steps per token (Siems et al. 2025)",
     .writes = kDeltaProductWrites, .gate_list = {kBetaPerWrite}, .n_gates = 1,
     .phi = FeatureMapKind::linear, .sum_normalize = true, .attention_normalize = false,
     .allows_attention_normalize = false, .non_causal = false, .layer_norm_readout = false,
     .fused = delta_product_call<true>, .reference = delta_product_call<false>,
     .step = delta_product_call<true>},
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
        r.n_gates < 0 || r.n_gates > int(r.gate_list.size()))
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

}  // namespace

int64_t FastWeightRule::gate_logits() const {
  int64_t n = 0;
  for (const RuleGate& g : gates()) n += g.per_write ? writes : 1;
  return n;
}

Variable FastWeightRule::read_out(const Variable& y) const {
  if (!layer_norm_readout || !y.defined()) return y;
  return layer_norm(y, Variable(), Variable());
}

const FastWeightRule& fast_weight_rule(UpdateRule rule) {
  const size_t i = size_t(rule);
  FWP_CHECK(i < std::size(kRules), "fast_weight_rule: no update rule with number ", i);
  return kRules[i];
}

std::span<const FastWeightRule> fast_weight_rules() { return kRules; }

std::string to_string(UpdateRule rule) {
  return size_t(rule) < std::size(kRules) ? kRules[size_t(rule)].name : "?";
}

std::string update_rule_names(bool short_names) {
  std::string out;
  for (size_t i = 0; i < std::size(kRules); ++i) {
    if (i > 0) out += i + 1 == std::size(kRules) ? " or " : ", ";
    out += short_names ? kRules[i].short_name : kRules[i].name;
  }
  return out;
}

UpdateRule update_rule_from_string(const std::string& name) {
  for (const FastWeightRule& r : kRules)
    if (name == r.name) return r.id;
  throw Error(cat("unknown update rule '", name, "' (expected ", update_rule_names(), ")"));
}

UpdateRule update_rule_from_short_name(const std::string& short_name) {
  for (const FastWeightRule& r : kRules)
    if (short_name == r.short_name) return r.id;
  throw Error(cat("unknown update rule '", short_name, "' (expected ",
                  update_rule_names(/*short_names=*/true), ")"));
}

double decay_gate_bias(double horizon) {
  FWP_CHECK(horizon > 1.0, "decay_gate_bias: the horizon must be > 1 step, got ", horizon);
  return std::log(horizon - 1.0);
}

}  // namespace fwp
