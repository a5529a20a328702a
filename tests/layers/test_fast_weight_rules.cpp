// The table of update rules (layers/fast_weight_rules.h): complete and in enum order (the
// compile-time guard has a twin here that names the rule), names that round-trip, and for EVERY
// rule, through its descriptor alone: the fused op against the composed reference and against
// central finite differences (f64), write-only calls, the one-step form, and the layer it builds.
// A rule added to the table is checked by these loops without a line of its own here.
#include "tests/catch.h"

#include <string>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "layers/attention.h"
#include "layers/fast_weight_rules.h"
#include "tests/fused_vs_reference.h"

using namespace fwp;
using fwp_test::HasSubstr;

namespace {

// Random arguments for a rule: T tokens, `writes` pairs each; keys small and positive so that
// every rule stays well-conditioned; gates in (0.1, 0.9). Inputs are, in order: q, k, v, each
// gate, W0, then z0 for a rule that normalises by z by default (the sum rule).
std::vector<Tensor> make_inputs(const FastWeightRule& rule, int64_t B, int64_t H, int64_t T,
                                int64_t Dk, int64_t Dv, uint64_t seed) {
  Rng rng(seed);
  const int64_t n = rule.writes;
  std::vector<Tensor> in = {Tensor::uniform({B, H, T, Dk}, rng, 0.1, 1.0, DType::f64),
                            Tensor::uniform({B, H, T * n, Dk}, rng, 0.05, 0.5, DType::f64),
                            Tensor::uniform({B, H, T * n, Dv}, rng, -1.0, 1.0, DType::f64)};
  for (const RuleGate& g : rule.gates())
    in.push_back(Tensor::uniform({B, H, T * (g.per_write ? n : 1)}, rng, 0.1, 0.9, DType::f64));
  in.push_back(Tensor::uniform({B, H, Dv, Dk}, rng, -0.5, 0.5, DType::f64));
  if (rule.attention_normalize) in.push_back(Tensor::uniform({B, H, Dk}, rng, 0.5, 1.0, DType::f64));
  return in;
}

// The same without q, for write-only calls.
std::vector<Tensor> without_q(std::vector<Tensor> in) {
  in.erase(in.begin());
  return in;
}

// The rule's op (fused or composed) on those inputs (read = false: without q), returning y and
// W_T (and z_T if kept).
fwp_test::Fn call(const FastWeightRule& rule, RuleFn op, bool read = true) {
  return [&rule, op, read](const std::vector<Variable>& x) {
    RuleArgs a;
    size_t i = 0;
    if (read) a.q = x[i++];
    a.k = x[i++];
    a.v = x[i++];
    for (size_t g = 0; g < rule.gates().size(); ++g) a.gates.push_back(x[i++]);
    a.W0 = x[i++];
    if (i < x.size()) a.z0 = x[i++];
    a.attention_normalize = rule.attention_normalize;
    RuleResult r = op(a);
    std::vector<Variable> out;
    if (read) out.push_back(rule.read_out(r.y));
    out.push_back(r.state);
    if (r.z.defined()) out.push_back(r.z);
    return out;
  };
}

}  // namespace

TEST_CASE("the rule table lists every rule once, in enum order, with unique names",
          "[layers][rules]") {
  REQUIRE(fast_weight_rules().size() == size_t(UpdateRule::count));
  for (size_t i = 0; i < fast_weight_rules().size(); ++i) {
    const FastWeightRule& r = fast_weight_rules()[i];
    INFO("rule " << i << " " << r.name);
    CHECK(r.id == UpdateRule(i));
    CHECK(&fast_weight_rule(r.id) == &r);
    CHECK(to_string(r.id) == r.name);
    CHECK(update_rule_from_string(r.name) == r.id);
    CHECK(update_rule_from_short_name(r.short_name) == r.id);
    CHECK(std::string(r.short_name).find('_') == std::string::npos);
    CHECK(r.fused != nullptr);
    CHECK(r.reference != nullptr);
    CHECK(r.step != nullptr);
    for (size_t j = 0; j < i; ++j) {
      CHECK(std::string(fast_weight_rules()[j].name) != r.name);
      CHECK(std::string(fast_weight_rules()[j].short_name) != r.short_name);
    }
  }
  CHECK_THROWS_WITH(update_rule_from_string("hebb"),
                    HasSubstr("unknown update rule 'hebb' (expected sum, delta, "));
  CHECK_THROWS_WITH(update_rule_from_short_name("gated_delta"), HasSubstr("gdelta"));
  CHECK_THROWS_WITH(fast_weight_rule(UpdateRule::count), HasSubstr("no update rule"));
}

TEST_CASE("every rule's fused op equals its composed reference, values and gradients",
          "[layers][rules]") {
  for (const FastWeightRule& rule : fast_weight_rules()) {
    INFO(rule.name);
    for (int64_t T : {1, 6}) {
      INFO("T = " << T);
      const std::vector<Tensor> in = make_inputs(rule, 2, 2, T, 5, 3, 10 + T);
      fwp_test::compare(call(rule, rule.fused), call(rule, rule.reference), in, 1e-10);
      // write only (q undefined): the same state and gradients, no y
      fwp_test::compare(call(rule, rule.fused, false), call(rule, rule.reference, false),
                        without_q(in), 1e-10);
    }
  }
}

TEST_CASE("every rule's fused op passes an f64 finite-difference check", "[layers][rules][gradcheck]") {
  for (const FastWeightRule& rule : fast_weight_rules()) {
    INFO(rule.name);
    const std::vector<Tensor> in = make_inputs(rule, 1, 2, 4, 3, 2, 21);
    GradcheckResult r = gradcheck_multi(call(rule, rule.fused), in);
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("every rule's one-step form continues the fused op token by token", "[layers][rules]") {
  for (const FastWeightRule& rule : fast_weight_rules()) {
    INFO(rule.name);
    const int64_t T = 5, n = rule.writes;
    const std::vector<Tensor> in = make_inputs(rule, 1, 2, T, 4, 3, 31);
    std::vector<Variable> x(in.begin(), in.end());
    const std::vector<Variable> full = call(rule, rule.fused)(x);
    Variable W = x[3 + rule.gates().size()];
    Variable z = in.size() > 4 + rule.gates().size() ? x.back() : Variable();
    for (int64_t t = 0; t < T; ++t) {
      RuleArgs a;
      a.q = slice(x[0], 2, t, t + 1);
      a.k = slice(x[1], 2, t * n, (t + 1) * n);
      a.v = slice(x[2], 2, t * n, (t + 1) * n);
      for (size_t g = 0; g < rule.gates().size(); ++g) {
        const int64_t m = rule.gates()[g].per_write ? n : 1;
        a.gates.push_back(slice(x[3 + g], 2, t * m, (t + 1) * m));
      }
      a.W0 = W;
      a.z0 = z;
      a.attention_normalize = rule.attention_normalize;
      RuleResult r = rule.step(a);
      CHECK_THAT(rule.read_out(r.y).value(),
                 fwp_test::AllClose(slice(full[0], 2, t, t + 1).value(), 1e-12, 1e-10));
      W = r.state;
      z = r.z;
    }
    CHECK_THAT(W.value(), fwp_test::AllClose(full[1].value(), 1e-12, 1e-10));
  }
}

TEST_CASE("every rule is a preset, and its layer projects what its descriptor asks for",
          "[layers][rules]") {
  const int64_t D = 8, H = 2, dh = 3;
  for (const FastWeightRule& rule : fast_weight_rules()) {
    INFO(rule.name);
    if (rule.id == UpdateRule::sum) continue;  // its presets are "linear", "performer", "dpfp"
    const auto& presets = AttentionConfig::preset_names();
    CHECK(std::find(presets.begin(), presets.end(), rule.name) != presets.end());
    AttentionConfig c = AttentionConfig::preset(rule.name, H, dh);
    CHECK(c.rule == rule.id);
    CHECK(c.phi.kind == rule.phi);
    CHECK(c.sum_normalize == rule.sum_normalize);
    Rng rng(1);
    SelfAttention attn(D, c, true, rng, 7, DType::f64);
    int64_t weights = 0;
    for (auto& [name, p] : attn.named_parameters())
      if (name == "qkvb.weight") weights = p.shape()[0];
    CHECK(weights == H * (dh + 2 * rule.writes * dh + rule.gate_logits()));
    Rng data(2);
    Tensor y = attn.forward(Variable(Tensor::uniform({2, 5, D}, data, -1, 1, DType::f64))).value();
    CHECK(y.shape() == Shape({2, 5, D}));
    if (!rule.allows_attention_normalize) {
      c.attention_normalize = true;
      CHECK_THROWS_WITH(SelfAttention(D, c, true, rng, 7), HasSubstr("attention_normalize"));
    }
  }
}
