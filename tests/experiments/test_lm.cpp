// fwp-lm's library (experiments/lm/): perplexity protocols against independent computations,
// training that resumes bit for bit, and the errors for bad flags, configs and checkpoints.
#include "tests/catch.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "autograd/functions.h"
#include "core/file_io.h"
#include "core/functional.h"
#include "core/safetensors.h"
#include "experiments/lm/lm_config.h"
#include "experiments/lm/lm_eval.h"
#include "experiments/lm/lm_train.h"

using namespace fwp;
using namespace fwp::lm;
using fwp_test::HasSubstr;
using Catch::Matchers::WithinRel;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / cat("fwp_test_lm_", tag, "_", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

constexpr int64_t kV = 11;

LMConfig tiny_config(const std::string& preset, double dropout = 0.0) {
  LMConfig c;
  c.vocab_size = kV;
  c.d_model = 8;
  c.n_layers = 2;
  c.d_ff = 12;
  c.dropout = dropout;
  c.attention = AttentionConfig::preset(preset, 2, 4);
  return c;
}

// A token stream with some structure (a noisy cycle), so trained models are not uniform.
std::vector<int64_t> stream(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = rng.uniform() < 0.7 ? (i * 3) % kV : rng.randint(kV);
  return out;
}

// -log p(tokens[j] | tokens[max(0, j - T) .. j)) summed over j = 1 .. N-1, one forward per target.
double naive_window_nll(TransformerLM& model, const std::vector<int64_t>& tokens, int64_t T) {
  NoGradGuard no_grad;
  model.eval();
  double nll = 0.0;
  for (size_t j = 1; j < tokens.size(); ++j) {
    const int64_t begin = std::max<int64_t>(0, int64_t(j) - T);
    std::vector<int64_t> ctx(tokens.begin() + begin, tokens.begin() + j);
    const int64_t L = int64_t(ctx.size());
    std::vector<double> logits = model.forward(Indices({1, L}, ctx)).value().to_vector();
    std::vector<double> last(logits.end() - kV, logits.end());
    double mx = *std::max_element(last.begin(), last.end()), z = 0.0;
    for (double x : last) z += std::exp(x - mx);
    nll -= last[tokens[j]] - mx - std::log(z);
  }
  return nll;
}

}  // namespace

TEST_CASE("lm eval: a uniform model has perplexity V", "[experiments][lm]") {
  TransformerLM model(tiny_config("delta"), 1);
  {
    NoGradGuard no_grad;
    for (auto& [name, p] : model.named_parameters())
      if (name == "embedding") p.mutable_value().fill_(0.0);  // tied output layer: logits 0
  }
  const std::vector<int64_t> tokens = stream(40, 2);
  EvalResult seg = evaluate_segments(model, tokens, 7, 2, false);
  CHECK(seg.targets == 2 * 19);  // two streams of 20 tokens
  CHECK_THAT(seg.perplexity(), WithinRel(double(kV), 1e-5));
  EvalResult win = evaluate_sliding(model, tokens, 7, 3, 4);
  CHECK(win.targets == 39);
  CHECK_THAT(win.perplexity(), WithinRel(double(kV), 1e-5));
}

TEST_CASE("lm eval: sliding windows score every target once with enough context", "[experiments][lm]") {
  for (auto [n, T, s] : {std::tuple{2, 4, 1}, {5, 4, 2}, {6, 4, 1}, {23, 5, 1}, {23, 5, 2}, {23, 5, 5}, {40, 7, 3}}) {
    std::vector<int> scored(n, 0);
    for (const Window& w : sliding_windows(n, T, s)) {
      CHECK(w.start + w.length <= n - 1);
      for (int64_t p = w.first_scored; p < w.length; ++p) {
        const int64_t target = w.start + p + 1;
        ++scored[target];
        if (w.start > 0) CHECK(p + 1 >= T - s + 1);  // context of a later window's target
      }
    }
    CHECK(scored[0] == 0);
    for (int64_t j = 1; j < n; ++j) CHECK(scored[j] == 1);
  }
  CHECK_THROWS_WITH(sliding_windows(10, 4, 5), HasSubstr("need 0 < stride <= context, got stride 5 and context 4"));
}

TEST_CASE("lm eval: stride-1 windows equal a naive one-forward-per-token computation", "[experiments][lm]") {
  for (const char* preset : {"softmax", "delta", "linear"}) {
    INFO(preset);
    TransformerLM model(tiny_config(preset), 3, DType::f64);
    const std::vector<int64_t> tokens = stream(23, 4);
    const double naive = naive_window_nll(model, tokens, 6);
    EvalResult r = evaluate_sliding(model, tokens, 6, 1, 4);
    CHECK(r.targets == 22);
    CHECK_THAT(r.nll, WithinRel(naive, 1e-10));
  }
}

TEST_CASE("lm eval: per-token log-probabilities add up to the sliding-window NLL", "[experiments][lm]") {
  for (auto [preset, stride] : {std::pair{"delta", 3}, std::pair{"softmax", 6}}) {
    INFO(preset);
    TransformerLM model(tiny_config(preset), 3, DType::f64);
    const std::vector<int64_t> tokens = stream(23, 4);
    const std::vector<double> logp = token_log_probs(model, tokens, 6, stride);
    REQUIRE(logp.size() == 22);  // every target but the first token
    double sum = 0.0;
    for (double l : logp) {
      CHECK(l < 0.0);
      sum += l;
    }
    CHECK_THAT(-sum, WithinRel(evaluate_sliding(model, tokens, 6, stride, 1).nll, 1e-10));
    if (stride == 6) {  // one window of 22: the first target agrees with a lone forward
      const double first = -naive_window_nll(model, {tokens[0], tokens[1]}, 6);
      CHECK_THAT(logp[0], WithinRel(first, 1e-10));
    }
  }
}

TEST_CASE("lm eval: a window covering the text equals full context and carried segments", "[experiments][lm]") {
  for (const char* preset : {"delta", "linear", "dpfp"}) {
    INFO(preset);
    TransformerLM model(tiny_config(preset), 5, DType::f64);
    const std::vector<int64_t> tokens = stream(30, 6);
    EvalResult full = evaluate_sliding(model, tokens, 64, 8, 1);      // one window of 29
    EvalResult one = evaluate_segments(model, tokens, 64, 1, false);  // one segment of 29
    EvalResult carried = evaluate_segments(model, tokens, 4, 1, true);  // 8 segments, state carried
    EvalResult cut = evaluate_segments(model, tokens, 4, 1, false);     // ... state reset
    CHECK(full.targets == 29);
    CHECK(carried.targets == 29);
    CHECK_THAT(one.nll, WithinRel(full.nll, 1e-12));
    CHECK_THAT(carried.nll, WithinRel(full.nll, 1e-10));
    CHECK(std::abs(cut.nll - full.nll) > 1e-6);  // resetting the state does change the result
  }
}

TEST_CASE("lm train: resuming from a checkpoint continues bit-identically", "[experiments][lm]") {
  TempDir tmp("resume");
  const std::vector<int64_t> train = stream(200, 7), valid = stream(30, 8);
  for (auto [preset, carry] : {std::pair{"delta", true}, std::pair{"performer", false}}) {
    INFO(preset);
    LmTrainOptions o;
    o.batch = 2;
    o.context = 5;
    o.steps = 7;
    o.warmup = 2;
    o.lr = 1e-2;
    o.log_every = 1;
    o.eval_every = 3;
    o.checkpoint_every = 2;
    o.carry_over = carry;
    std::ostringstream log;
    o.out = tmp.path(cat(preset, "_whole"));
    TransformerLM a(tiny_config(preset, 0.1), 9);
    train_lm(a, train, valid, o, "fp", log);

    o.out = tmp.path(cat(preset, "_parts"));
    o.stop_after = 3;
    TransformerLM b(tiny_config(preset, 0.1), 9);
    LmTrainResult first = train_lm(b, train, valid, o, "fp", log);
    CHECK(first.interrupted);
    CHECK(first.steps == 3);
    o.stop_after = 0;
    o.resume = true;
    TransformerLM c(tiny_config(preset, 0.1), 1234);  // everything must come from the checkpoint
    LmTrainResult second = train_lm(c, train, valid, o, "fp", log);
    CHECK(second.steps == 7);
    CHECK_FALSE(second.interrupted);

    auto whole = load_safetensors(tmp.path(cat(preset, "_whole/checkpoint.safetensors")));
    auto parts = load_safetensors(tmp.path(cat(preset, "_parts/checkpoint.safetensors")));
    REQUIRE(whole.tensors.size() == parts.tensors.size());
    if (carry) CHECK(whole.tensors.count("run.carry.0.W") == 1);
    for (const auto& [name, t] : whole.tensors) {
      INFO(name);
      REQUIRE(parts.tensors.count(name) == 1);
      CHECK(t.to_vector() == parts.tensors.at(name).to_vector());  // bitwise
    }
    for (const char* key : {"rng.module.dropout_rng", "train.position", "train.epoch"})
      CHECK(whole.metadata.at(key) == parts.metadata.at(key));
  }
}

TEST_CASE("lm train: bad checkpoints and options are rejected with a message", "[experiments][lm]") {
  TempDir tmp("errors");
  const std::vector<int64_t> train = stream(120, 7), valid = stream(30, 8);
  LmTrainOptions o;
  o.batch = 2;
  o.context = 5;
  o.steps = 2;
  o.warmup = 1;
  o.out = tmp.path("run");
  std::ostringstream log;
  TransformerLM model(tiny_config("delta"), 1);
  train_lm(model, train, valid, o, "{\"lr\": 1}", log);
  CHECK_THROWS_WITH(train_lm(model, train, valid, o, "{\"lr\": 1}", log),
                    HasSubstr("exists: pass --resume"));
  o.resume = true;
  CHECK_THROWS_WITH(train_lm(model, train, valid, o, "{\"lr\": 2}", log),
                    HasSubstr("different configuration: lr: 1 -> 2"));
  std::string bytes = read_file(o.out + "/checkpoint.safetensors");
  bytes[bytes.size() - 3] ^= 0x40;
  write_file_atomic(o.out + "/checkpoint.safetensors", bytes);
  CHECK_THROWS_WITH(train_lm(model, train, valid, o, "{\"lr\": 1}", log), HasSubstr("is corrupt"));

  TransformerLM softmax(tiny_config("softmax"), 1);
  o.out = tmp.path("softmax");
  o.resume = false;
  o.carry_over = true;
  CHECK_THROWS_WITH(train_lm(softmax, train, valid, o, "", log),
                    HasSubstr("--carry-over needs fast-weight attention"));
  CHECK_THROWS_WITH(evaluate_segments(softmax, valid, 5, 1, true), HasSubstr("carry-over needs fast-weight"));
  o.carry_over = false;
  o.batch = 100;  // streams of 1 token: no segment
  CHECK_THROWS_WITH(train_lm(softmax, train, valid, o, "", log), HasSubstr("120 tokens cannot fill 100 streams"));
}

TEST_CASE("lm config: presets, overrides and JSON files; bad names fail clearly", "[experiments][lm]") {
  ModelFlags f;
  LMConfig d = build_model_config(f, 100);
  CHECK(d.vocab_size == 100);
  CHECK(d.n_layers == 16);
  CHECK(d.attention.rule == UpdateRule::delta);
  f.attention = "dpfp";
  f.nu = 2;
  f.layers = 3;
  f.heads = 4;
  LMConfig c = build_model_config(f, 100);
  CHECK(c.n_layers == 3);
  CHECK(c.attention.n_heads == 4);
  CHECK(c.attention.phi.kind == FeatureMapKind::dpfp);
  CHECK(c.attention.phi.nu == 2);
  CHECK(c.attention.rule == UpdateRule::sum);
  f.rule = "delta";
  f.sum_normalize = true;
  f.attention_normalize = false;
  c = build_model_config(f, 100);
  CHECK(c.attention.rule == UpdateRule::delta);
  CHECK(c.attention.sum_normalize);

  auto flags = [](auto set) {
    ModelFlags g;
    set(g);
    return g;
  };
  CHECK_THROWS_WITH(build_model_config(flags([](ModelFlags& g) { g.attention = "nonsense"; }), 10),
                    HasSubstr("--attention: unknown attention preset 'nonsense'"));
  CHECK_THROWS_WITH(build_model_config(flags([](ModelFlags& g) { g.rule = "hebb"; }), 10), HasSubstr("unknown update rule 'hebb'"));
  CHECK_THROWS_WITH(build_model_config(flags([](ModelFlags& g) { g.layers = 0; }), 10), HasSubstr("--layers 0"));
  TempDir tmp("config");
  write_file_atomic(tmp.path("m.json"), R"({"n_layers": 2, "attention": {"rule": "sum", "colour": 1}})");
  const std::string file = tmp.path("m.json");
  CHECK_THROWS_WITH(build_model_config(flags([&](ModelFlags& g) { g.config_file = file; }), 10),
                    HasSubstr("unknown key 'colour'"));
  write_file_atomic(tmp.path("m.json"), R"({"n_layers": 2, "attention": {"rule": "sum"}})");
  c = build_model_config(flags([&](ModelFlags& g) {
                           g.config_file = file;
                           g.d_model = 16;
                         }), 10);
  CHECK(c.n_layers == 2);
  CHECK(c.d_model == 16);
  CHECK(c.attention.rule == UpdateRule::sum);
  const std::string none = tmp.path("none.json");
  CHECK_THROWS_WITH(build_model_config(flags([&](ModelFlags& g) { g.config_file = none; }), 10),
                    HasSubstr("cannot read"));
}
