// The attention family: the properties of docs/THEORY.md sections 2, 4 and 6 checked on random
// inputs, causality, carry-over, recurrent generation, gradchecks, configs.
#include "tests/catch.h"

#include <cmath>
#include <map>

#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tests/parameter_gradcheck.h"
#include "core/functional.h"
#include "layers/attention.h"
#include "layers/config_json.h"
#include "layers/transformer.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
using V = std::vector<Variable>;

namespace {
Tensor rnd(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  return Tensor::uniform(s, rng, lo, hi, DType::f64);
}
// Every attention variant: every preset (the paper's, and one per rule of
// layers/fast_weight_rules.h), with FAVOR+ fixed so repeated calls are comparable.
std::vector<AttentionConfig> all_variants(int64_t H, int64_t dh) {
  std::vector<AttentionConfig> out;
  for (const std::string& name : AttentionConfig::preset_names()) {
    AttentionConfig c = AttentionConfig::preset(name, H, dh);
    c.phi.m = 4;
    c.phi.redraw = FavorRedraw::fixed;
    out.push_back(c);
  }
  AttentionConfig ablation = AttentionConfig::preset("delta", H, dh);  // delta + both normalisations
  ablation.attention_normalize = true;
  out.push_back(ablation);
  AttentionConfig sum_norm = AttentionConfig::preset("linear", H, dh);  // sum rule + sum norm
  sum_norm.sum_normalize = true;
  sum_norm.attention_normalize = false;
  out.push_back(sum_norm);
  return out;
}
}  // namespace

TEST_CASE("sum rule with attention normalisation equals quadratic causal linear attention",
          "[layers][attention]") {
  const int64_t B = 2, H = 3, T = 7, Dd = 5, Dv = 4;
  Variable q(rnd({B, H, T, Dd}, 1, 0.1, 1.0)), k(rnd({B, H, T, Dd}, 2, 0.1, 1.0)),
      v(rnd({B, H, T, Dv}, 3));
  Tensor y = sum_rule(q, k, v, /*normalize=*/true, 1e-6).y.value();
  // independent quadratic form: A = tril(phi(Q) phi(K)^T), y = A V / rowsum(A)
  Tensor A = matmul(q.value(), k.value(), false, true);  // (B, H, T, T)
  double* a = A.data<double>();
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = i + 1; j < T; ++j) a[(bh * T + i) * T + j] = 0.0;
  Tensor ref = div(matmul(A, v.value()), add(sum(A, {3}, true), 1e-6));
  CHECK_THAT(y, AllClose(ref, 1e-12, 1e-10));
}

TEST_CASE("delta rule with beta 1 and orthonormal keys stores the latest value; sum rule does not",
          "[layers][attention]") {
  const int64_t Dd = 4, Dv = 3;
  std::vector<int64_t> key_ids = {0, 1, 0, 2, 1, 0};
  const int64_t T = key_ids.size();
  Tensor k = Tensor::zeros({1, 1, T, Dd}, DType::f64);
  for (int64_t t = 0; t < T; ++t) k.data<double>()[t * Dd + key_ids[t]] = 1.0;  // e_{key}
  Tensor v = rnd({1, 1, T, Dv}, 4);
  Tensor beta = Tensor::ones({1, 1, T}, DType::f64);
  Tensor W = delta_rule(Variable(k), Variable(k), Variable(v), Variable(beta)).state.value();
  Tensor Ws = sum_rule(Variable(k), Variable(k), Variable(v), false, 0.0).state.value();
  for (int64_t key = 0; key < 3; ++key) {
    int64_t last = T - 1;
    while (key_ids[last] != key) --last;
    for (int64_t j = 0; j < Dv; ++j) {
      CHECK_THAT(W.at({0, 0, j, key}), Catch::Matchers::WithinAbs(v.at({0, 0, last, j}), 1e-14));
      double total = 0.0;  // what the sum rule returns: every value ever written under the key
      for (int64_t t = 0; t < T; ++t)
        if (key_ids[t] == key) total += v.at({0, 0, t, j});
      CHECK_THAT(Ws.at({0, 0, j, key}), Catch::Matchers::WithinAbs(total, 1e-14));
      if (key != 2) CHECK(std::abs(total - v.at({0, 0, last, j})) > 1e-6);  // keys 0, 1 repeat
    }
  }
}

TEST_CASE("attention layers are causal", "[layers][attention]") {
  const int64_t D = 8;
  for (const AttentionConfig& c : all_variants(2, 4)) {
    INFO(c.describe());
    Rng rng(1);
    SelfAttention attn(D, c, /*causal=*/true, rng, 7, DType::f64);
    Tensor x = rnd({2, 7, D}, 5);
    Tensor y1 = attn.forward(Variable(x)).value();
    // change every input at t >= 4: outputs before t = 4 must not move
    Tensor x2 = concat({slice(x, 1, 0, 4), add(slice(x, 1, 4, 7), 0.5)}, 1);
    Tensor y2 = attn.forward(Variable(x2)).value();
    CHECK_THAT(slice(y2, 1, 0, 4), AllClose(slice(y1, 1, 0, 4), 0, 0));
    CHECK_FALSE(slice(y2, 1, 4, 7).to_vector() == slice(y1, 1, 4, 7).to_vector());
  }
}

TEST_CASE("attention layers pass f64 gradcheck", "[layers][attention][gradcheck]") {
  const int64_t D = 6;
  for (const AttentionConfig& c : all_variants(2, 3)) {
    INFO(c.describe());
    Rng rng(2);
    SelfAttention attn(D, c, true, rng, 3, DType::f64);
    auto r = gradcheck([&](const V& v) { return attn.forward(v[0]); }, {rnd({1, 5, D}, 6)});
    INFO(r.message);
    CHECK(r.ok);
    if (c.kind == AttentionKind::softmax || c.rule == UpdateRule::sum) {
      SelfAttention enc(D, c, /*causal=*/false, rng, 3, DType::f64);
      Tensor valid = Tensor::from_vector({1, 1, 1, 0, 1, 1, 1, 1, 1, 1}, {2, 5}, DType::f64);
      auto re = gradcheck([&](const V& v) { return enc.forward(v[0], nullptr, valid); }, {rnd({2, 5, D}, 7)});
      INFO(re.message);
      CHECK(re.ok);
      CrossAttention cross(D, c, rng, 4, DType::f64);
      auto rc = gradcheck([&](const V& v) { return cross.forward(v[0], v[1], valid); },
                          {rnd({2, 3, D}, 8), rnd({2, 5, D}, 9)});
      INFO(rc.message);
      CHECK(rc.ok);
    }
  }
}

TEST_CASE("padding is ignored by non-causal attention", "[layers][attention]") {
  const int64_t D = 6;
  for (const char* name : {"softmax", "linear", "dpfp"}) {
    INFO(name);
    Rng rng(3);
    AttentionConfig c = AttentionConfig::preset(name, 2, 3);
    SelfAttention enc(D, c, false, rng, 1, DType::f64);
    Tensor x = rnd({1, 5, D}, 10), valid = Tensor::from_vector({1, 1, 1, 0, 0}, {1, 5}, DType::f64);
    Tensor y_pad = slice(enc.forward(Variable(x), nullptr, valid).value(), 1, 0, 3);
    Tensor y_short = enc.forward(Variable(slice(x, 1, 0, 3))).value();
    CHECK_THAT(y_pad, AllClose(y_short, 1e-12, 1e-10));
  }
}

TEST_CASE("carry-over over two segments equals one run, values and gradients", "[layers][attention]") {
  const int64_t D = 8;
  for (const AttentionConfig& c : all_variants(2, 4)) {
    INFO(c.describe());
    Rng rng(4);
    SelfAttention attn(D, c, true, rng, 9, DType::f64);
    Tensor x = rnd({2, 7, D}, 11), g = rnd({2, 7, D}, 12);
    Variable full = attn.forward(Variable(x));
    backward({full}, {g});
    std::vector<Tensor> grads_full;
    for (auto& p : attn.parameters()) grads_full.push_back(p.grad().clone());
    attn.zero_grad();
    AttentionState st;
    Variable y1 = attn.forward(Variable(slice(x, 1, 0, 4)), &st);
    Variable y2 = attn.forward(Variable(slice(x, 1, 4, 7)), &st);
    CHECK(st.length == 7);
    CHECK_THAT(concat({y1.value(), y2.value()}, 1), AllClose(full.value(), 1e-12, 1e-10));
    backward({y1, y2}, {slice(g, 1, 0, 4), slice(g, 1, 4, 7)});
    auto params = attn.parameters();
    for (size_t i = 0; i < params.size(); ++i)
      CHECK_THAT(params[i].grad(), AllClose(grads_full[i], 1e-12, 1e-9));
  }
}

TEST_CASE("recurrent generation gives the parallel forward's logits", "[layers][transformer]") {
  for (const AttentionConfig& c : all_variants(2, 4)) {
    INFO(c.describe());
    LMConfig lc{.vocab_size = 11, .d_model = 8, .n_layers = 2, .d_ff = 16, .dropout = 0.0, .attention = c};
    TransformerLM lm(lc, 5, DType::f64);
    lm.eval();
    std::vector<int64_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6};
    const int64_t T = tokens.size();
    Tensor parallel = lm.forward(Indices({1, T}, tokens)).value();
    LMState state;
    for (int64_t t = 0; t < T; ++t) {
      Tensor step = lm.forward(Indices({1, 1}, {tokens[t]}), &state).value();
      CHECK_THAT(step.reshape({11}), AllClose(slice(parallel, 1, t, t + 1).reshape({11}), 1e-12, 1e-9));
    }
    Rng rng(1);
    auto gen = lm.generate({3, 1}, 4, rng, 0.0);
    CHECK(gen.size() == 6);
  }
}

// The whole language model (embedding, positions, every block's attention, LayerNorms and
// feed-forward, the tied output layer): every parameter's gradient against central differences.
TEST_CASE("the language model passes an f64 finite-difference check of its parameters",
          "[layers][transformer][gradcheck]") {
  for (const AttentionConfig& c : all_variants(2, 3)) {
    INFO(c.describe());
    LMConfig lc{.vocab_size = 7, .d_model = 6, .n_layers = 2, .d_ff = 8, .dropout = 0.0, .attention = c};
    TransformerLM lm(lc, 11, DType::f64);
    Indices tokens({2, 4}, {3, 1, 4, 1, 5, 2, 6, 0});
    const fwp_test::ParameterCheck r =
        fwp_test::check_parameter_gradients(lm, [&] { return lm.forward(tokens); }, 12, 4);
    INFO("worst " << r.worst << " at " << r.where);
    CHECK(r.worst <= 1.0);
  }
}

TEST_CASE("layer configs round-trip through JSON and reject typos", "[layers][config]") {
  LMConfig c{.vocab_size = 100, .d_model = 32, .n_layers = 2, .d_ff = 64,
             .attention = AttentionConfig::preset("dpfp_delta", 4, 8)};
  c.attention.phi.nu = 3;
  LMConfig back = config_from_json_string<LMConfig>(config_to_json_string(c));
  CHECK(config_to_json_string(back) == config_to_json_string(c));
  CHECK(back.attention.phi.nu == 3);
  CHECK(back.attention.rule == UpdateRule::delta);
  CHECK_THROWS_WITH(config_from_json_string<LMConfig>(R"({"d_modle": 3})"), HasSubstr("d_modle"));
  CHECK_THROWS_WITH(config_from_json_string<LMConfig>(R"({"attention": {"rule": "hebb"}})"),
                    HasSubstr("hebb"));
  CHECK_THROWS_WITH(AttentionConfig::preset("perfomer", 1, 1), HasSubstr("perfomer"));
  c.attention = AttentionConfig::preset("dpfp_gated_delta", 4, 8);
  back = config_from_json_string<LMConfig>(config_to_json_string(c));
  CHECK(config_to_json_string(back) == config_to_json_string(c));
  CHECK(back.attention.rule == UpdateRule::gated_delta);
  CHECK(back.attention.phi.kind == FeatureMapKind::dpfp);
  CHECK_THAT(config_to_json_string(c), HasSubstr("\"gated_delta\""));
}

TEST_CASE("gated delta attention: alpha logit per head, alpha near 1 at the start",
          "[layers][attention]") {
  const int64_t D = 8, H = 3, dh = 4;
  Rng rng(1);
  AttentionConfig c = AttentionConfig::preset("gated_delta", H, dh);
  SelfAttention attn(D, c, true, rng, 7, DType::f64);
  auto params = attn.named_parameters();
  std::map<std::string, Tensor> by_name;
  for (auto& [name, p] : params) by_name[name] = p.value();
  REQUIRE(by_name.count("qkvb.weight"));
  CHECK(by_name["qkvb.weight"].shape() == Shape({H * (3 * dh + 2), D}));
  REQUIRE(by_name.count("alpha_bias"));
  // 1 - sigmoid(c_h) = 0.001, 0.01, 0.1: horizons of 1000, 100 and 10 tokens
  std::vector<double> alpha0 = sigmoid(by_name["alpha_bias"]).to_vector();
  for (int64_t h = 0; h < H; ++h)
    CHECK_THAT(1.0 - alpha0[h], Catch::Matchers::WithinRel(0.001 * std::pow(100.0, h / 2.0), 1e-9));
  // no denominator for the gated rule, and no encoder
  AttentionConfig bad = c;
  bad.attention_normalize = true;
  CHECK_THROWS_WITH(SelfAttention(D, bad, true, rng, 7), HasSubstr("attention_normalize"));
  CHECK_THROWS_WITH(SelfAttention(D, c, false, rng, 7), HasSubstr("needs the sum rule, got gated_delta"));
}
