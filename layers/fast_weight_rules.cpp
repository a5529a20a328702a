// Lookups in the table of fast-weight update rules (fast_weight_rules.h) and what the descriptors
// compute.
#include "layers/fast_weight_rules.h"

#include <cmath>
#include <iterator>

#include "core/error.h"

namespace fwp {

using rule_table::kRules;

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
