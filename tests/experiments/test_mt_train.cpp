// fwp-mt end to end on a toy corpus (a temporary folder with a tiny SentencePiece model): the
// BLEU evaluation path equals fwp-bleu and hand-computed values, training writes checkpoints and
// metrics, an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted
// one, corrupt checkpoints are rejected, and the program rejects bad flags with clear messages.
#include "tests/catch.h"
#include "tests/run_command.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/file_io.h"
#include "experiments/mt/train.h"

using namespace fwp;
using namespace fwp::mt;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

using fwp_test::run_command;

namespace {

// 16 Spanish -> English pairs from 4 subjects x 4 verbs; valid and test take 4 of them.
struct ToyCorpus {
  fs::path dir = fs::temp_directory_path() / cat("fwp_test_mt_", ::getpid());
  ToyCorpus() {
    fs::create_directories(dir);
    const std::array<std::array<const char*, 2>, 4> subjects = {
        {{"El perro", "The dog"}, {"El gato", "The cat"}, {"La niña", "The girl"}, {"El hombre", "The man"}}};
    const std::array<std::array<const char*, 2>, 4> verbs = {
        {{"come pan.", "eats bread."}, {"duerme.", "sleeps."}, {"corre mucho.", "runs a lot."}, {"canta.", "sings."}}};
    std::vector<std::string> es, en;
    for (auto& s : subjects)
      for (auto& v : verbs) {
        es.push_back(cat(s[0], " ", v[0]));
        en.push_back(cat(s[1], " ", v[1]));
      }
    write("train", es, en);
    write("valid", {es[1], es[6], es[11], es[12]}, {en[1], en[6], en[11], en[12]});
    write("test", {es[0], es[5], es[10], es[15]}, {en[0], en[5], en[10], en[15]});
    std::vector<std::string> both = es;
    both.insert(both.end(), en.begin(), en.end());
    data::SubwordOptions o;
    o.vocab_size = 40;
    o.num_threads = 1;
    data::train_subword_model(both, (dir / "spm").string(), o);
  }
  ~ToyCorpus() { fs::remove_all(dir); }
  void write(const std::string& split, const std::vector<std::string>& es, const std::vector<std::string>& en) {
    write_lines((dir / (split + ".es")).string(), es);
    write_lines((dir / (split + ".en")).string(), en);
  }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

const ToyCorpus& corpus() {
  static ToyCorpus c;
  return c;
}

Seq2SeqConfig toy_model(int64_t vocab) {
  Seq2SeqConfig c;
  c.src_vocab = c.tgt_vocab = vocab;
  c.d_model = 16;
  c.n_encoder_layers = c.n_decoder_layers = 1;
  c.d_ff = 32;
  c.dropout = 0.1;  // dropout on: resuming must also restore its random generator
  c.encoder_attention = AttentionConfig::preset("dpfp", 2, 8);
  c.decoder_attention = AttentionConfig::preset("delta", 2, 8);
  c.cross_attention = AttentionConfig::preset("softmax", 2, 8);
  return c;
}

MtTrainOptions toy_options(const std::string& out, int64_t steps) {
  MtTrainOptions o;
  o.out = out;
  o.steps = steps;
  o.max_tokens = 100;  // a few pairs per batch: an epoch has several batches, but fewer than 6
  o.schedule = {experiments::LrSchedule::Kind::constant, 3e-3, 0, steps};
  o.log_every = 2;
  o.eval_every = 2;
  o.fingerprint = "toy";
  return o;
}

}  // namespace

TEST_CASE("fwp-mt's BLEU path: detokenised ids scored against raw references equals fwp-bleu",
          "[mt][bleu]") {
  MtData d = load_mt_data(corpus().dir.string());
  const std::vector<std::string> refs = {"The cat sleeps.", "The girl runs a lot."};
  // hypotheses as the search returns them: subword ids without bos/eos
  std::vector<Hypothesis> exact, changed;
  for (const std::string& r : refs) exact.push_back({d.tokenizer.encode(r), 0.0, 0.0});
  changed.push_back({d.tokenizer.encode("The cat sleeps."), 0.0, 0.0});
  changed.push_back({d.tokenizer.encode("The man runs bread."), 0.0, 0.0});
  BleuResult same = score_translations(exact, d.tokenizer, refs);
  CHECK(same.hypotheses == refs);  // SentencePiece detokenisation restores the raw text
  CHECK_THAT(same.bleu.score, WithinAbs(100.0, 1e-9));
  // by hand, 13a tokens: hyp "The cat sleeps ." + "The man runs bread ." (4 + 5 = 9),
  // refs "The cat sleeps ." + "The girl runs a lot ." (4 + 6 = 10):
  //   1-grams 4 + 3 = 7/9, 2-grams 3 + 0 = 3/7, 3-grams 2/5, 4-grams 1/3, BP = exp(1 - 10/9)
  BleuResult r = score_translations(changed, d.tokenizer, refs);
  const double expected = 100.0 * std::exp(1.0 - 10.0 / 9.0) *
                          std::pow(7.0 / 9.0 * 3.0 / 7.0 * 2.0 / 5.0 * 1.0 / 3.0, 0.25);
  CHECK_THAT(r.bleu.score, WithinRel(expected, 1e-12));
  // and fwp-bleu, run on the files the program writes, prints the same line
  const std::string hyp = corpus().path("bleu.hyp"), ref = corpus().path("bleu.ref");
  write_lines(hyp, r.hypotheses);
  write_lines(ref, refs);
  auto [status, out] = run_command(cat(FWP_BLEU_PROGRAM, " ", hyp, " ", ref));
  CHECK(status == 0);
  CHECK(out == r.bleu.str() + "\n");
  CHECK_THROWS_WITH(score_translations(changed, d.tokenizer, {"one"}), HasSubstr("2 translations for 1 references"));
}

TEST_CASE("fwp-mt training resumes bit-exactly and rejects corrupt checkpoints", "[mt][train]") {
  MtData d = load_mt_data(corpus().dir.string());
  const int64_t V = d.tokenizer.size();
  const std::string a = corpus().path("run_a"), b = corpus().path("run_b");
  fs::remove_all(a);
  fs::remove_all(b);
  REQUIRE(data::make_batches(d.train.examples, {.max_tokens = 100}).size() < 6);
  REQUIRE(data::make_batches(d.train.examples, {.max_tokens = 100}).size() > 1);
  // A: 6 steps at once
  Seq2Seq model_a(toy_model(V), 1);
  MtTrainResult ra = train(model_a, d, toy_options(a, 6));
  CHECK(ra.steps == 6);
  CHECK(ra.epoch >= 1);  // the toy epoch is shorter than 6 batches: epochs roll over
  CHECK(file_exists(checkpoint_path(a)));
  CHECK(data::read_lines(a + "/metrics.csv").size() == 4);  // header + steps 2, 4, 6
  // B: 4 steps, then resumed to 6 in a new model object (as a new process would)
  Seq2Seq model_b(toy_model(V), 1);
  train(model_b, d, toy_options(b, 4));
  CHECK_THROWS_WITH(train(model_b, d, toy_options(b, 6)), HasSubstr("pass --resume"));
  Seq2Seq model_b2(toy_model(V), 2);  // other seed: everything must come from the checkpoint
  MtTrainOptions resume = toy_options(b, 6);
  resume.resume = true;
  MtTrainResult rb = train(model_b2, d, resume);
  CHECK(rb.steps == 6);
  CHECK(rb.tokens_seen == ra.tokens_seen);
  auto pa = model_a.named_parameters(), pb = model_b2.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].first);
    CHECK_THAT(pb[i].second.value(), AllClose(pa[i].second.value(), 0, 0));
  }
  CHECK(data::read_lines(b + "/metrics.csv").size() == 4);
  // another configuration may not continue this checkpoint
  MtTrainOptions other = resume;
  other.fingerprint = "other";
  CHECK_THROWS_WITH(train(model_b2, d, other), HasSubstr("different configuration"));
  // a flipped byte in the middle and a truncated file are both rejected
  std::string bytes = read_file(checkpoint_path(b));
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  write_file_atomic(checkpoint_path(b), flipped);
  CHECK_THROWS_WITH(train(model_b2, d, resume), HasSubstr("corrupt"));
  write_file_atomic(checkpoint_path(b), bytes.substr(0, bytes.size() - 100));
  CHECK_THROWS_WITH(train(model_b2, d, resume), HasSubstr(checkpoint_path(b)));
  // translating a split writes one line per source and scores exactly that file
  SearchOptions beam2{.beam = 2};
  SplitResult s = translate_split(model_a, d, d.test, beam2, 64, a + "/test.hyp", false);
  std::vector<std::string> lines = data::read_lines(a + "/test.hyp");
  CHECK(lines.size() == d.test.references.size());
  CHECK(s.bleu.str() == data::corpus_bleu(lines, {d.test.references}).str());
}

TEST_CASE("fwp-mt rejects bad flags with clear messages", "[mt][cli]") {
  const std::string prog = cat(FWP_MT_PROGRAM, " --out ", corpus().path("cli"), " --threads 1 ");
  struct Case {
    std::string flags, message;
  };
  const std::vector<Case> cases = {
      {"--enc-attention delta", "needs softmax or the sum rule (softmax, linear, performer, dpfp)"},
      {"--cross-attention fwm", "--cross-attention fwm"},
      {"--dec-attention perfomer", "--dec-attention: perfomer not in {softmax,linear,performer"},
      {"--beam 0", "--beam"},
      {"--steps -3", "--steps"},
      {"--eval-splits valid,tset", "unknown split 'tset'"},
      {"--schedule linear", "--schedule"},
      {"--device tpu", "unknown device 'tpu'"},
      {"--data /nonexistent", "/nonexistent/spm.model"},
      {"--no-such-flag", "no-such-flag"},
  };
  for (const Case& c : cases) {
    INFO(c.flags);
    const bool own_data = c.flags.find("--data") != std::string::npos;
    auto [status, out] = run_command(prog + c.flags + (own_data ? "" : " --data " + corpus().dir.string()));
    INFO(out);
    CHECK(status != 0);
    CHECK_THAT(out, HasSubstr(c.message));
  }
  auto [status, out] = run_command(cat(FWP_MT_PROGRAM, " --help"));
  CHECK(status == 0);
  CHECK_THAT(out, HasSubstr("--dec-attention"));
}
