// Greedy and beam search (experiments/mt/search.h): beam 1 is greedy; beam search finds the best
// sequence of a hand-built table where greedy does not, and with a beam wide enough to keep
// every hypothesis it finds the brute-force optimum; on a real Seq2Seq model every hypothesis'
// score equals the teacher-forced log-probability of its tokens (so reordering the decoder
// state between beams is right), for every kind of decoder state.
#include "tests/catch.h"

#include <cmath>
#include <map>

#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/functional.h"
#include "experiments/mt/search.h"
#include "experiments/mt/translate.h"

using namespace fwp;
using namespace fwp::mt;
using Catch::Matchers::WithinAbs;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

namespace {

constexpr int64_t kV = 5;  // ids: pad 0, unk 1, bos 2, eos 3, and 4

// p(next | source, prefix) from a table; prefixes not in the table get a fixed pseudo-random
// distribution from a hash of (source, prefix). The decoder tracks each row's prefix the way a
// real decoder tracks its state: a new row copies its parent's.
class TableDecoder : public StepDecoder {
 public:
  std::map<std::vector<int64_t>, std::vector<double>> table;  // prefix (after bos) -> probabilities
  int64_t sources = 1;
  int64_t calls = 0;
  int64_t vocab_size() const override { return kV; }
  int64_t n_sources() const override { return sources; }
  Tensor step(const std::vector<int64_t>& parents, const std::vector<int64_t>& tokens) override {
    std::vector<std::vector<int64_t>> prefixes;
    std::vector<int64_t> src;
    for (size_t i = 0; i < parents.size(); ++i) {
      if (calls == 0) {
        src.push_back(parents[i]);
        prefixes.push_back({});
      } else {
        src.push_back(source_[parents[i]]);
        prefixes.push_back(prefix_[parents[i]]);
        prefixes.back().push_back(tokens[i]);
      }
    }
    ++calls;
    prefix_ = prefixes;
    source_ = src;
    std::vector<double> lp;
    for (size_t i = 0; i < parents.size(); ++i) {
      std::vector<double> p = probabilities(src[i], prefixes[i]);
      for (double x : p) lp.push_back(std::log(x));
    }
    return Tensor::from_vector(lp, {int64_t(parents.size()), kV}, DType::f64);
  }
  std::vector<double> probabilities(int64_t source, const std::vector<int64_t>& prefix) const {
    auto it = table.find(prefix);
    if (it != table.end()) return it->second;
    uint64_t h = 1469598103934665603ull + 7919 * uint64_t(source);
    for (int64_t t : prefix) h = (h ^ uint64_t(t + 1)) * 1099511628211ull;
    std::vector<double> p(kV);
    double total = 0.0;
    for (int64_t v = 0; v < kV; ++v) {
      h = (h ^ uint64_t(v + 17)) * 1099511628211ull;
      total += p[v] = 0.05 + double((h >> 20) % 1000) / 1000.0;
    }
    for (double& x : p) x /= total;
    return p;
  }

 private:
  std::vector<std::vector<int64_t>> prefix_;
  std::vector<int64_t> source_;
};

// Every output (tokens from {1, 4}, then eos; eos forced at max_len) and its score.
void brute_force(const TableDecoder& d, int64_t source, std::vector<int64_t> prefix, double score,
                 int64_t max_len, double lenpen, Hypothesis& best) {
  std::vector<double> p = d.probabilities(source, prefix);
  const double ended = score + std::log(p[3]);
  const double normalized = ended / std::pow(double(prefix.size() + 1), lenpen);
  if (normalized > best.normalized) best = {prefix, ended, normalized};
  if (static_cast<int64_t>(prefix.size()) == max_len) return;
  for (int64_t v : {1, 4}) {
    std::vector<int64_t> next = prefix;
    next.push_back(v);
    brute_force(d, source, next, score + std::log(p[v]), max_len, lenpen, best);
  }
}

}  // namespace

TEST_CASE("beam search finds the best sequence of a hand-built table; greedy does not", "[mt][search]") {
  TableDecoder d, d2;
  for (TableDecoder* t : {&d, &d2}) {
    //                   pad  unk  bos  eos  4
    t->table[{}] = {0.0, 0.5, 0.0, 0.1, 0.4};
    t->table[{1}] = {0.0, 0.4, 0.0, 0.2, 0.4};
    t->table[{4}] = {0.0, 0.05, 0.0, 0.9, 0.05};
    t->table[{1, 1}] = {0.0, 0.25, 0.0, 0.5, 0.25};
    t->table[{1, 4}] = {0.0, 0.25, 0.0, 0.5, 0.25};
  }
  SearchOptions o{.beam = 1, .length_penalty = 1.0};
  Hypothesis greedy = greedy_search(d, {2}, o)[0];
  CHECK(greedy.tokens == std::vector<int64_t>{1, 1});  // 0.5, then the tie 0.4/0.4 goes to id 1
  CHECK_THAT(greedy.score, WithinAbs(std::log(0.5 * 0.4 * 0.5), 1e-12));
  o.beam = 2;
  Hypothesis beam = beam_search(d2, {2}, o)[0];
  CHECK(beam.tokens == std::vector<int64_t>{4});  // log(0.4 * 0.9) / 2 beats log(0.1) / 3
  CHECK_THAT(beam.score, WithinAbs(std::log(0.4 * 0.9), 1e-12));
  CHECK_THAT(beam.normalized, WithinAbs(std::log(0.36) / 2, 1e-12));
}

TEST_CASE("beam search wide enough to keep every hypothesis finds the brute-force optimum", "[mt][search]") {
  for (double lenpen : {0.0, 0.6, 1.0, 2.0}) {
    for (int64_t max_len : {0, 1, 3, 4}) {
      INFO("lenpen " << lenpen << " max_len " << max_len);
      TableDecoder d;
      d.sources = 3;
      std::vector<Hypothesis> got = beam_search(d, {max_len, max_len, max_len},
                                                {.beam = 64, .length_penalty = lenpen});
      for (int64_t s = 0; s < 3; ++s) {
        Hypothesis best{{}, 0.0, -INFINITY};
        brute_force(d, s, {}, 0.0, max_len, lenpen, best);
        CHECK(got[s].tokens == best.tokens);
        CHECK_THAT(got[s].normalized, WithinAbs(best.normalized, 1e-12));
      }
    }
  }
}

TEST_CASE("beam search with beam 1 equals greedy search", "[mt][search]") {
  TableDecoder a, b;
  a.sources = b.sources = 6;
  std::vector<int64_t> max_lens = {0, 1, 2, 5, 8, 12};
  std::vector<Hypothesis> g = greedy_search(a, max_lens, {.beam = 1});
  std::vector<Hypothesis> bs = beam_search(b, max_lens, {.beam = 1});
  for (size_t s = 0; s < g.size(); ++s) {
    INFO("source " << s);
    CHECK(g[s].tokens == bs[s].tokens);
    CHECK_THAT(bs[s].score, WithinAbs(g[s].score, 1e-12));
    CHECK(static_cast<int64_t>(g[s].tokens.size()) <= max_lens[s]);
  }
  CHECK(g[0].tokens.empty());  // max_len 0: eos is forced at once
}

TEST_CASE("search rejects bad options with named messages", "[mt][search][errors]") {
  TableDecoder d;
  CHECK_THROWS_WITH(beam_search(d, {3}, {.beam = 0}), HasSubstr("beam must be >= 1"));
  CHECK_THROWS_WITH(greedy_search(d, {3, 3}, {}), HasSubstr("2 maximum lengths for 1 sources"));
  CHECK_THROWS_WITH(greedy_search(d, {3}, {.bos = 7}), HasSubstr("outside the vocabulary"));
}

namespace {

Seq2SeqConfig tiny(const std::string& decoder_preset) {
  Seq2SeqConfig c;
  c.src_vocab = c.tgt_vocab = 9;
  c.d_model = 8;
  c.n_encoder_layers = 1;
  c.n_decoder_layers = 2;
  c.d_ff = 16;
  c.dropout = 0.0;
  c.init_std = 0.4;  // peaked distributions: hypotheses of varied lengths
  c.encoder_attention = AttentionConfig::preset("softmax", 2, 4);
  c.decoder_attention = AttentionConfig::preset(decoder_preset, 2, 4);
  c.cross_attention = AttentionConfig::preset("linear", 2, 4);
  c.decoder_attention.phi.m = 4;
  return c;
}

// log p(tokens, eos | src) by one parallel forward of the decoder (teacher forcing).
double teacher_forced(Seq2Seq& m, const std::vector<int64_t>& src, const std::vector<int64_t>& tokens) {
  NoGradGuard no_grad;
  const int64_t S = src.size(), T = tokens.size() + 1, V = m.config().tgt_vocab;
  std::vector<int64_t> in = {2};
  in.insert(in.end(), tokens.begin(), tokens.end());
  std::vector<int64_t> out = tokens;
  out.push_back(3);
  Tensor valid = Tensor::ones({1, S}, DType::f64);
  Tensor lp = log_softmax(m.decode(Indices({1, T}, in), m.encode(Indices({1, S}, src), valid), valid).value(), -1);
  double total = 0.0;
  for (int64_t t = 0; t < T; ++t) total += lp.data<double>()[t * V + out[t]];
  return total;
}

}  // namespace

TEST_CASE("seq2seq beam search: every hypothesis scores its teacher-forced log-probability",
          "[mt][search]") {
  for (const char* preset : {"softmax", "linear", "delta", "fwm", "favor_delta"}) {
    INFO(preset);
    Seq2Seq m(tiny(preset), 4, DType::f64);
    m.eval();
    // three sources of lengths 4, 2, 3 in one padded batch
    std::vector<std::vector<int64_t>> srcs = {{5, 6, 7, 3}, {8, 3}, {4, 4, 3}};
    std::vector<double> ids, valid;
    for (const auto& s : srcs)
      for (int64_t i = 0; i < 4; ++i) {
        ids.push_back(i < int64_t(s.size()) ? s[i] : 0);
        valid.push_back(i < int64_t(s.size()) ? 1 : 0);
      }
    Indices src({3, 4}, std::vector<int64_t>(ids.begin(), ids.end()));
    Tensor mask = Tensor::from_vector(valid, {3, 4}, DType::f64);
    SearchOptions o{.beam = 3, .length_penalty = 1.0, .max_len_a = 1.0, .max_len_b = 3};
    std::vector<int64_t> max_lens = {7, 5, 6};
    Seq2SeqStepDecoder beam_decoder(m, src, mask);
    std::vector<Hypothesis> beams = beam_search(beam_decoder, max_lens, o);
    Seq2SeqStepDecoder greedy_decoder(m, src, mask), beam1_decoder(m, src, mask);
    std::vector<Hypothesis> greedy = greedy_search(greedy_decoder, max_lens, o);
    o.beam = 1;
    std::vector<Hypothesis> beam1 = beam_search(beam1_decoder, max_lens, o);
    int64_t lengths = 0;
    for (size_t s = 0; s < srcs.size(); ++s) {
      INFO("source " << s << ", " << beams[s].tokens.size() << " tokens");
      CHECK_THAT(beams[s].score, WithinAbs(teacher_forced(m, srcs[s], beams[s].tokens), 1e-9));
      CHECK_THAT(greedy[s].score, WithinAbs(teacher_forced(m, srcs[s], greedy[s].tokens), 1e-9));
      CHECK(beam1[s].tokens == greedy[s].tokens);
      lengths += static_cast<int64_t>(beams[s].tokens.size());
    }
    CHECK(lengths > 0);  // the scores above are not all of the empty output
  }
}
