// The encoder-decoder model (layers/seq2seq.h) for several combinations of encoder, decoder and
// cross-attention: decoder causality, source padding ignored, step-by-step decoding equal to the
// parallel decoder, an f64 finite-difference check of every parameter's gradient, and the
// non-causal sum rule against its quadratic form.
#include "tests/catch.h"

#include <array>

#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/functional.h"
#include "layers/seq2seq.h"
#include "tests/parameter_gradcheck.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

namespace {

// {encoder, decoder self, cross} presets. Encoder and cross-attention are non-causal: softmax or
// a sum rule; the decoder takes any preset.
using Combo = std::array<const char*, 3>;
const std::vector<Combo>& combos() {
  static const std::vector<Combo> c = {
      {"softmax", "softmax", "softmax"},     {"linear", "linear", "linear"},
      {"performer", "performer", "performer"}, {"dpfp", "dpfp", "dpfp"},
      {"softmax", "delta", "softmax"},        {"dpfp", "dpfp_delta", "linear"},
      {"linear", "fwm", "dpfp"},              {"softmax", "favor_delta", "performer"}};
  return c;
}

AttentionConfig preset(const char* name, int64_t H, int64_t dh) {
  AttentionConfig c = AttentionConfig::preset(name, H, dh);
  c.phi.m = 4;                        // small FAVOR+, drawn once so repeated calls agree
  c.phi.redraw = FavorRedraw::fixed;
  return c;
}

Seq2SeqConfig tiny_config(const Combo& combo, int64_t V = 11, int64_t D = 8, int64_t H = 2,
                          int64_t dh = 4, int64_t layers = 2) {
  Seq2SeqConfig c;
  c.src_vocab = V;
  c.tgt_vocab = V + 2;  // different vocabularies catch a mixed-up table
  c.d_model = D;
  c.n_encoder_layers = layers;
  c.n_decoder_layers = layers;
  c.d_ff = 2 * D;
  c.dropout = 0.0;
  c.init_std = 0.3;  // large weights: every path moves the logits visibly
  c.encoder_attention = preset(combo[0], H, dh);
  c.decoder_attention = preset(combo[1], H, dh);
  c.cross_attention = preset(combo[2], H, dh);
  return c;
}

std::string name_of(const Combo& c) { return cat(c[0], " / ", c[1], " / ", c[2]); }

Tensor ones(int64_t B, int64_t S) { return Tensor::ones({B, S}, DType::f64); }

// Logits of a whole batch: encode, then the parallel decoder.
Tensor logits_of(Seq2Seq& m, const Indices& src, const Tensor& valid, const Indices& tgt) {
  NoGradGuard no_grad;
  return m.decode(tgt, m.encode(src, valid), valid).value();
}

}  // namespace

TEST_CASE("seq2seq decoder is causal: logits at t ignore target tokens after t", "[layers][seq2seq]") {
  for (const Combo& combo : combos()) {
    INFO(name_of(combo));
    Seq2Seq m(tiny_config(combo), 3, DType::f64);
    m.eval();
    Indices src({2, 5}, {4, 7, 1, 9, 3, 5, 5, 2, 8, 3});
    Indices tgt1({2, 6}, {2, 4, 6, 8, 10, 12, 2, 1, 3, 5, 7, 9});
    Indices tgt2({2, 6}, {2, 4, 6, 11, 0, 1, 2, 1, 3, 0, 12, 12});  // changed from t = 3 on
    Tensor a = logits_of(m, src, ones(2, 5), tgt1), b = logits_of(m, src, ones(2, 5), tgt2);
    CHECK_THAT(slice(b, 1, 0, 3), AllClose(slice(a, 1, 0, 3), 0, 0));
    CHECK_FALSE(slice(b, 1, 3, 6).to_vector() == slice(a, 1, 3, 6).to_vector());
  }
}

TEST_CASE("seq2seq ignores source padding", "[layers][seq2seq]") {
  for (const Combo& combo : combos()) {
    INFO(name_of(combo));
    Seq2Seq m(tiny_config(combo), 4, DType::f64);
    m.eval();
    // row 0 has 3 real source tokens and 2 pads (whose ids must not matter), row 1 has 5
    Indices src({2, 5}, {4, 7, 3, 9, 9, 5, 5, 2, 8, 3});
    Indices src_other_pads({2, 5}, {4, 7, 3, 0, 6, 5, 5, 2, 8, 3});
    Tensor valid = Tensor::from_vector({1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {2, 5}, DType::f64);
    Indices tgt({2, 4}, {2, 4, 6, 8, 2, 1, 3, 5});
    Tensor batch = logits_of(m, src, valid, tgt);
    Tensor other = logits_of(m, src_other_pads, valid, tgt);
    CHECK_THAT(other, AllClose(batch, 1e-12, 1e-10));
    Tensor alone = logits_of(m, Indices({1, 3}, {4, 7, 3}), ones(1, 3), Indices({1, 4}, {2, 4, 6, 8}));
    CHECK_THAT(slice(batch, 0, 0, 1), AllClose(alone, 1e-12, 1e-10));
    // the padded row's source really matters (the check above is not vacuous)
    Tensor changed = logits_of(m, Indices({1, 3}, {4, 7, 1}), ones(1, 3), Indices({1, 4}, {2, 4, 6, 8}));
    CHECK_FALSE(changed.to_vector() == alone.to_vector());
  }
}

TEST_CASE("seq2seq step-by-step decoding gives the parallel decoder's logits", "[layers][seq2seq]") {
  for (const Combo& combo : combos()) {
    INFO(name_of(combo));
    Seq2Seq m(tiny_config(combo), 5, DType::f64);
    m.eval();
    NoGradGuard no_grad;
    Indices src({2, 4}, {4, 7, 3, 0, 5, 5, 2, 8});
    Tensor valid = Tensor::from_vector({1, 1, 1, 0, 1, 1, 1, 1}, {2, 4}, DType::f64);
    std::vector<int64_t> tgt = {2, 4, 6, 8, 10, 2, 1, 3, 5, 7};
    const int64_t T = 5;
    Variable memory = m.encode(src, valid);
    Tensor parallel = m.decode(Indices({2, T}, tgt), memory, valid).value();
    DecoderState state;
    for (int64_t t = 0; t < T; ++t) {
      Tensor step = m.decode(Indices({2, 1}, {tgt[t], tgt[T + t]}), memory, valid, &state).value();
      CHECK_THAT(step, AllClose(slice(parallel, 1, t, t + 1), 1e-12, 1e-9));
    }
    CHECK(state.length == T);
    // two steps at once continue the state just as well
    DecoderState s2;
    m.decode(Indices({2, 2}, {2, 4, 2, 1}), memory, valid, &s2);
    Tensor rest = m.decode(Indices({2, 3}, {6, 8, 10, 3, 5, 7}), memory, valid, &s2).value();
    CHECK_THAT(rest, AllClose(slice(parallel, 1, 2, 5), 1e-12, 1e-9));
  }
}

// Parameter elements (a few of every parameter) against central differences of L = <logits, G>,
// G random (tests/parameter_gradcheck.h).
TEST_CASE("seq2seq passes an f64 finite-difference check of its parameters", "[layers][seq2seq][gradcheck]") {
  for (const Combo& combo : combos()) {
    INFO(name_of(combo));
    Seq2Seq m(tiny_config(combo, /*V=*/5, /*D=*/6, /*H=*/2, /*dh=*/3, /*layers=*/1), 6, DType::f64);
    m.train();  // dropout is 0 and FAVOR+ is fixed: training mode is deterministic here
    Indices src({2, 3}, {1, 4, 0, 3, 2, 4});
    Tensor valid = Tensor::from_vector({1, 1, 0, 1, 1, 1}, {2, 3}, DType::f64);
    Indices tgt({2, 3}, {2, 5, 1, 2, 6, 3});
    auto forward = [&] { return m.decode(tgt, m.encode(src, valid), valid); };
    const fwp_test::ParameterCheck r = fwp_test::check_parameter_gradients(m, forward, 9);
    INFO("worst " << r.worst << " at " << r.where);
    CHECK(r.worst <= 1.0);
  }
}

TEST_CASE("cross-attention with a cache computes the memory part once and gives the same output",
          "[layers][seq2seq]") {
  for (const char* name : {"softmax", "linear", "performer", "dpfp"}) {
    INFO(name);
    Rng rng(8);
    CrossAttention cross(6, preset(name, 2, 3), rng, 5, DType::f64);
    Rng data(9);
    Tensor memory = Tensor::uniform({2, 5, 6}, data, -1, 1, DType::f64);
    Tensor valid = Tensor::from_vector({1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {2, 5}, DType::f64);
    Tensor x1 = Tensor::uniform({2, 1, 6}, data, -1, 1, DType::f64), x2 = Tensor::uniform({2, 1, 6}, data, -1, 1, DType::f64);
    CrossAttentionCache cache;
    Tensor y1 = cross.forward(Variable(x1), Variable(memory), valid, &cache).value();
    CHECK((cache.keys.defined() || cache.W.defined()));
    CHECK_THAT(y1, AllClose(cross.forward(Variable(x1), Variable(memory), valid).value(), 0, 0));
    // the second call reads the cache: even a zeroed memory gives the first memory's answer
    Tensor y2 = cross.forward(Variable(x2), Variable(mul(memory, 0.0)), valid, &cache).value();
    CHECK_THAT(y2, AllClose(cross.forward(Variable(x2), Variable(memory), valid).value(), 1e-14, 1e-12));
  }
}

TEST_CASE("non-causal sum rule equals its quadratic form, with padding", "[layers][seq2seq]") {
  const int64_t B = 2, H = 3, T = 4, S = 6, Dd = 5, Dv = 3;
  Rng rng(11);
  Tensor q = Tensor::uniform({B, H, T, Dd}, rng, 0.1, 1.0, DType::f64);
  Tensor k = Tensor::uniform({B, H, S, Dd}, rng, 0.1, 1.0, DType::f64);
  Tensor v = Tensor::uniform({B, H, S, Dv}, rng, -1.0, 1.0, DType::f64);
  Tensor valid = Tensor::from_vector({1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, {B, S}, DType::f64);
  for (bool normalize : {true, false}) {
    INFO("attention_normalize " << normalize);
    Tensor y = global_sum_rule(Variable(q), Variable(k), Variable(v), normalize, 1e-6, valid).value();
    // y_t = sum_s A_ts v_s (/ (sum_s A_ts + eps)),  A_ts = q_t . k_s over real keys s only
    Tensor ref = Tensor::zeros({B, H, T, Dv}, DType::f64);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < T; ++t) {
          double total = 0.0;
          std::vector<double> acc(Dv, 0.0);
          for (int64_t s = 0; s < S; ++s) {
            if (valid.at({b, s}) == 0.0) continue;
            double a = 0.0;
            for (int64_t i = 0; i < Dd; ++i) a += q.at({b, h, t, i}) * k.at({b, h, s, i});
            total += a;
            for (int64_t j = 0; j < Dv; ++j) acc[j] += a * v.at({b, h, s, j});
          }
          for (int64_t j = 0; j < Dv; ++j)
            ref.data<double>()[((b * H + h) * T + t) * Dv + j] = normalize ? acc[j] / (total + 1e-6) : acc[j];
        }
    CHECK_THAT(y, AllClose(ref, 1e-13, 1e-11));
  }
}

// The whole encoder self-attention layer with the "linear" preset, against the quadratic form
// written out with its own weights: y_t = O [ sum_s A_ts v_s / (sum_s A_ts + eps) ] / sqrt(dh),
// A_ts = phi(q_t) . phi(k_s) over the real tokens s, phi(x) = elu(x) + 1.
TEST_CASE("non-causal sum-rule encoder layer equals its quadratic form", "[layers][seq2seq]") {
  const int64_t B = 2, T = 5, D = 6, H = 2, dh = 3, P = 3 * dh + 1;
  Rng rng(12);
  SelfAttention enc(D, AttentionConfig::preset("linear", H, dh), /*causal=*/false, rng, 1, DType::f64);
  Rng data(13);
  Tensor x = Tensor::uniform({B, T, D}, data, -1, 1, DType::f64);
  Tensor valid = Tensor::from_vector({1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, {B, T}, DType::f64);
  Tensor y = enc.forward(Variable(x), nullptr, valid).value();
  Tensor Wp, Wo;  // qkvb (H P, D) and out (D, H dh)
  for (auto& [name, p] : enc.named_parameters()) {
    if (name == "qkvb.weight") Wp = p.value();
    if (name == "out.weight") Wo = p.value();
  }
  REQUIRE((Wp.defined() && Wo.defined()));
  Tensor proj = matmul(x, Wp, false, true);  // (B, T, H P): per head [q, k, v, beta logit]
  auto at = [&](int64_t b, int64_t t, int64_t h, int64_t i) { return proj.at({b, t, h * P + i}); };
  auto phi = [](double u) { return u > 0 ? u + 1.0 : std::exp(u); };
  Tensor heads = Tensor::zeros({B, T, H * dh}, DType::f64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        double total = 0.0;
        std::vector<double> acc(dh, 0.0);
        for (int64_t s = 0; s < T; ++s) {
          if (valid.at({b, s}) == 0.0) continue;
          double a = 0.0;
          for (int64_t i = 0; i < dh; ++i) a += phi(at(b, t, h, i)) * phi(at(b, s, h, dh + i));
          total += a;
          for (int64_t j = 0; j < dh; ++j) acc[j] += a * at(b, s, h, 2 * dh + j);
        }
        for (int64_t j = 0; j < dh; ++j)
          heads.data<double>()[(b * T + t) * H * dh + h * dh + j] = acc[j] / (total + 1e-6) / std::sqrt(double(dh));
      }
  CHECK_THAT(y, AllClose(matmul(heads, Wo, false, true), 1e-13, 1e-11));
}

TEST_CASE("seq2seq rejects bad sizes and tokens with named messages", "[layers][seq2seq][errors]") {
  Seq2SeqConfig c = tiny_config(combos()[0]);
  c.d_model = 0;
  CHECK_THROWS_WITH(Seq2Seq(c, 1, DType::f64), HasSubstr("D=0"));
  Seq2Seq m(tiny_config(combos()[0]), 1, DType::f64);
  CHECK_THROWS_WITH(m.encode(Indices({1, 2}, {1, 11}), ones(1, 2)), HasSubstr("token id 11"));
  Seq2SeqConfig bad_encoder = tiny_config({"delta", "softmax", "softmax"});
  CHECK_THROWS_WITH(Seq2Seq(bad_encoder, 1, DType::f64), HasSubstr("needs the sum rule"));
  Seq2SeqConfig bad_dropout = tiny_config(combos()[0]);
  bad_dropout.dropout = 1.0;
  CHECK_THROWS_WITH(Seq2Seq(bad_dropout, 1, DType::f64), HasSubstr("dropout"));
}
