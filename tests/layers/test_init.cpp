// Initialisation: every parameter declares its initialiser (ParamInit, layers/module.h) and the
// models' init pass (init_transformer_weights) must honour it. For the language model and the
// translation model with every attention preset, each parameter family is checked twice: that
// its layer declares the expected kind (names below), and that its values after construction
// have the statistics that kind promises. The gated delta rule's alpha_bias is the case that
// once went wrong: a name-based pass zeroed it as a "bias", so the decays started at 0.5.
#include "tests/catch.h"

#include <array>
#include <cmath>
#include <string>

#include "layers/seq2seq.h"
#include "layers/transformer.h"

using namespace fwp;
using fwp_test::HasSubstr;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The kind each family of the two models must declare, from its name. A parameter that matches
// no family fails the test: a new parameter needs a line here and a decision about its init.
bool expected_init(const std::string& name, ParamInit& kind) {
  const std::string last = name.substr(name.rfind('.') + 1);
  const std::string owner = name.find('.') == std::string::npos
                                ? "" : name.substr(0, name.rfind('.'));
  const std::string module = owner.substr(owner.rfind('.') + 1);  // "ln1", "qkvb", "w1", ...
  const bool layer_norm = module.rfind("ln", 0) == 0;
  if (ends_with(last, "_bias")) kind = ParamInit::own;  // a decay gate's bias ("alpha_bias")
  else if (last == "bias") kind = ParamInit::zeros;
  else if (last == "weight" && layer_norm) kind = ParamInit::ones;
  else if (last == "weight" || ends_with(last, "embedding")) kind = ParamInit::weight;
  else return false;
  return true;
}

// Checks one parameter's values against its declared kind; std is the model's init_std.
void check_statistics(const NamedParameter& p, double std) {
  INFO(p.name << " declared " << to_string(p.init) << ", shape " << p.value.shape());
  const std::vector<double> x = p.value.value().to_vector();
  const double n = double(x.size());
  switch (p.init) {
    case ParamInit::weight: {
      double mean = 0.0, sq = 0.0;
      for (double v : x) mean += v / n;
      for (double v : x) sq += (v - mean) * (v - mean) / n;
      // N(0, std^2): the sample mean is within 5 standard errors of 0 and the sample std within
      // 12% of std (its relative standard error is 1/sqrt(2n) <= 2.2% for n >= 1024).
      REQUIRE(n >= 1024);
      CHECK(std::abs(mean) < 5.0 * std / std::sqrt(n));
      CHECK(std::abs(std::sqrt(sq) / std - 1.0) < 0.12);
      break;
    }
    case ParamInit::zeros:
      for (double v : x) REQUIRE(v == 0.0);
      break;
    case ParamInit::ones:
      for (double v : x) REQUIRE(v == 1.0);
      break;
    case ParamInit::own: {
      // Only the biases of decay gates (GateInit::decay, layers/fast_weight_rules.h; the gated
      // rule's alpha_bias) are `own` in these models: alpha = sigmoid(bias) per head, with
      // 1 - alpha log-spaced over [0.001, 0.1] (SelfAttention's constructor): every initial
      // decay in [0.9, 0.999], the first head's 0.999 and the last head's 0.9.
      REQUIRE(ends_with(p.name, "_bias"));
      REQUIRE(x.size() >= 2);
      for (double c : x) {
        const double alpha = 1.0 / (1.0 + std::exp(-c));
        CHECK(alpha >= 0.9 - 1e-6);
        CHECK(alpha <= 0.999 + 1e-6);
      }
      CHECK(std::abs(1.0 / (1.0 + std::exp(-x.front())) - 0.999) < 1e-6);
      CHECK(std::abs(1.0 / (1.0 + std::exp(-x.back())) - 0.9) < 1e-6);
      break;
    }
  }
}

// Every parameter of `model`: declared as its family must be, with the promised statistics.
// Returns how many parameters of each kind were seen (index = ParamInit).
std::array<int, 4> check_model(const Module& model, double std) {
  std::array<int, 4> seen{};
  for (const NamedParameter& p : model.parameter_table()) {
    ParamInit kind = ParamInit::own;
    INFO(p.name);
    REQUIRE(expected_init(p.name, kind));
    CHECK(to_string(p.init) == to_string(kind));
    check_statistics(p, std);
    ++seen[int(p.init)];
  }
  return seen;
}

bool non_causal_ok(const AttentionConfig& a) {
  return a.kind == AttentionKind::softmax || a.rule == UpdateRule::sum;
}

// The parameters with ParamInit::own per attention layer: one bias per decay gate of its rule.
int own_per_layer(const AttentionConfig& a) {
  if (a.kind == AttentionKind::softmax) return 0;
  int n = 0;
  for (const RuleGate& g : fast_weight_rule(a.rule).gates()) n += g.init == GateInit::decay;
  return n;
}

}  // namespace

TEST_CASE("language model parameters start as their layers declare, for every preset",
          "[layers][init]") {
  for (const std::string& name : AttentionConfig::preset_names()) {
    INFO("attention preset " << name);
    LMConfig c;
    c.vocab_size = 200;
    c.d_model = 32;
    c.n_layers = 2;
    c.d_ff = 64;
    c.init_std = 0.02;
    c.attention = AttentionConfig::preset(name, 4, 8);
    TransformerLM model(c, 7);
    const std::array<int, 4> seen = check_model(model, c.init_std);
    CHECK(seen[int(ParamInit::weight)] > 0);
    CHECK(seen[int(ParamInit::zeros)] > 0);
    CHECK(seen[int(ParamInit::ones)] > 0);
    CHECK(seen[int(ParamInit::own)] == own_per_layer(c.attention) * c.n_layers);
  }
}

TEST_CASE("translation model parameters start as their layers declare, for every preset",
          "[layers][init]") {
  for (const std::string& name : AttentionConfig::preset_names()) {
    INFO("decoder self-attention preset " << name);
    Seq2SeqConfig c;
    c.src_vocab = 150;
    c.tgt_vocab = 170;
    c.d_model = 32;
    c.n_encoder_layers = 1;
    c.n_decoder_layers = 2;
    c.d_ff = 64;
    c.init_std = 0.05;
    c.decoder_attention = AttentionConfig::preset(name, 4, 8);
    // encoder and cross-attention see the whole sequence: the same preset where it allows that
    c.encoder_attention = non_causal_ok(c.decoder_attention) ? c.decoder_attention
                                                             : AttentionConfig::preset("linear", 4, 8);
    c.cross_attention = c.encoder_attention;
    Seq2Seq model(c, 11);
    const std::array<int, 4> seen = check_model(model, c.init_std);
    CHECK(seen[int(ParamInit::weight)] > 0);
    CHECK(seen[int(ParamInit::ones)] > 0);
    CHECK(seen[int(ParamInit::own)] == own_per_layer(c.decoder_attention) * c.n_decoder_layers);
  }
}

TEST_CASE("init pass follows each parameter's declaration, not its name", "[layers][init]") {
  // A module whose names would mislead a name-based pass: an `own` parameter called "bias" and
  // a `zeros` parameter called "offset".
  struct Odd : Module {
    Variable kept, zeroed, gain, matrix;
    Odd() {
      kept = register_parameter("bias", Tensor::full({3}, 2.5), ParamInit::own);
      zeroed = register_parameter("offset", Tensor::full({3}, 4.0), ParamInit::zeros);
      gain = register_parameter("gain", Tensor::full({3}, -1.0), ParamInit::ones);
      matrix = register_parameter("matrix", Tensor::zeros({40, 40}), ParamInit::weight);
    }
  };
  Odd m;
  Rng rng(3);
  init_transformer_weights(m, 0.1, rng);
  CHECK(m.kept.value().to_vector() == std::vector<double>{2.5, 2.5, 2.5});
  CHECK(m.zeroed.value().to_vector() == std::vector<double>{0.0, 0.0, 0.0});
  CHECK(m.gain.value().to_vector() == std::vector<double>{1.0, 1.0, 1.0});
  double sq = 0.0;
  for (double v : m.matrix.value().to_vector()) sq += v * v / 1600.0;
  CHECK(std::abs(std::sqrt(sq) / 0.1 - 1.0) < 0.1);
}

TEST_CASE("a parameter declared as a weight matrix must be a matrix", "[layers][init]") {
  struct Bad : Module {
    Bad() { register_parameter("scale", Tensor::ones({5}), ParamInit::weight); }
  };
  REQUIRE_THROWS_WITH(Bad(), HasSubstr("parameter 'scale'") && HasSubstr("(5)"));
  Rng rng(1);
  Module empty;
  REQUIRE_THROWS_WITH(init_transformer_weights(empty, -1.0, rng), HasSubstr("std must be >= 0, got -1"));
}
