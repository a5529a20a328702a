// The programs as a newcomer runs them (issue: "every command in the docs works as written"):
// fwp-lm's defaults fit any --steps, a refused run leaves no folder behind, prompts are tokenised
// like the corpus, segments_carry is labelled, --score writes per-token log-probabilities, and
// fwp-synthetic resumes inside an interrupted run and writes JSON next to its CSV. Each case runs
// the built programs on tiny corpora from tests/tools/make_tiny_corpora.
#include "tests/catch.h"
#include "tests/run_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/file_io.h"

using fwp::cat;
using fwp::read_file;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

using fwp_test::run_command;

namespace {

// A scratch folder with the tiny corpora (data/bible-lm, data/bible-mt), removed at the end.
const fwp_test::TinyCorporaFolder& scratch() {
  static fwp_test::TinyCorporaFolder s("fwp_test_cli", FWP_MAKE_TINY_CORPORA);
  return s;
}

// fwp-lm with a tiny model on the tiny corpus; `flags` add to (or, given twice, fail) these.
std::string lm(const std::string& flags, const std::string& data = "") {
  return cat(FWP_LM_PROGRAM, " --data ", data.empty() ? scratch().path("data/bible-lm") : data,
             " --layers 1 --d-model 16 --heads 2 --d-head 8 --d-ff 32 --context 8 --batch 2",
             " --min-count 1 --threads 1 ", flags);
}

}  // namespace

TEST_CASE("fwp-lm: the default warm-up fits a short run and a refused run leaves its folder as "
          "it was", "[experiments][cli][lm]") {
  const std::string out = scratch().path("lm_short");
  auto [status, log] = run_command(lm(cat("--steps 5 --eval-every 5 --out ", out)));
  INFO(log);
  CHECK(status == 0);  // the paper's 2000 warm-up steps would not fit 5 steps
  CHECK(fs::exists(out + "/results.json"));
  CHECK_THAT(log, HasSubstr("\"warmup\": 0"));  // a tenth of 5 steps

  const std::string refused = scratch().path("lm_refused");
  auto [status2, log2] = run_command(lm(cat("--steps 5 --warmup 10 --out ", refused)));
  INFO(log2);
  CHECK(status2 == 1);
  CHECK_THAT(log2, HasSubstr("--warmup 10 is longer than the run (--steps 5)"));
  CHECK_FALSE(fs::exists(refused));  // the folder is as it was: absent

  // a finished run's folder is not touched by a second run without --resume
  const std::string before = read_file(out + "/command.txt");
  auto [status3, log3] = run_command(lm(cat("--steps 6 --out ", out)));
  INFO(log3);
  CHECK(status3 == 1);
  CHECK_THAT(log3, HasSubstr("pass --resume"));
  CHECK(read_file(out + "/command.txt") == before);
}

TEST_CASE("fwp-lm: the first progress line comes after the first step and not after --log-every",
          "[experiments][cli][lm]") {
  auto [status, log] = run_command(lm(cat("--steps 6 --log-every 100 --log-seconds 1000 --out ",
                                  scratch().path("lm_progress"))));
  INFO(log);
  CHECK(status == 0);
  CHECK_THAT(log, HasSubstr("step 1/6 |"));  // the first line, with an ETA
  CHECK_THAT(log, HasSubstr("| ETA "));
  CHECK_THAT(log, HasSubstr("step 6/6 |"));  // and the last
  CHECK(log.find("step 3/6 |") == std::string::npos);  // nothing in between (neither due)
}

TEST_CASE("fwp-lm: a trained run generates from a tokenised prompt and labels segments_carry "
          "and scores a token file", "[experiments][cli][lm]") {
  const std::string out = scratch().path("lm_run");
  auto [status, log] = run_command(lm(cat("--steps 4 --eval-every 4 --out ", out)));
  INFO(log);
  REQUIRE(status == 0);
  // segments_carry of a model trained without carry-over says what it is
  CHECK_THAT(log, HasSubstr("segments_carry: ppl"));
  CHECK_THAT(log, HasSubstr("this model was trained without --carry-over"));
  const nlohmann::json results = nlohmann::json::parse(read_file(out + "/results.json"));
  CHECK_THAT(results["valid"]["segments_carry"]["note"].get<std::string>(), HasSubstr("without --carry-over"));
  CHECK_FALSE(results["valid"]["segments"].contains("note"));

  // the prompt's "apt-get" is split as the corpus splits it ("apt @-@ get"), not <unk>
  auto [gstatus, generated] = run_command(cat(FWP_LM_PROGRAM, " --out ", out,
                                      " --generate 'The apt-get command' --tokens 3 --temperature 0"));
  INFO(generated);
  CHECK(gstatus == 0);
  CHECK_THAT(generated, HasSubstr("The apt @-@ get command"));
  CHECK(generated.find("<unk>") == std::string::npos);

  // --score: one row per token of the file (each line's words and its <eos>)
  const std::string file = scratch().path("data/bible-lm/test.tokens");
  auto [sstatus, scored] = run_command(cat(FWP_LM_PROGRAM, " --out ", out, " --score ", file));
  INFO(scored);
  REQUIRE(sstatus == 0);
  std::istringstream lines(read_file(file));
  int64_t tokens = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    for (std::string w; words >> w;) ++tokens;
    ++tokens;  // <eos>
  }
  std::istringstream tsv(read_file(out + "/scores.tsv"));
  std::string header, row;
  std::getline(tsv, header);
  CHECK(header == "index\ttoken\tid\tlogprob");
  int64_t rows = 0;
  double sum = 0.0;
  while (std::getline(tsv, row)) {
    ++rows;
    const double logp = std::stod(row.substr(row.rfind('\t') + 1));
    CHECK(logp <= 0.0);
    sum += logp;
  }
  CHECK(rows == tokens);
  CHECK_THAT(scored, HasSubstr(cat("scored ", tokens, " tokens")));
  const size_t at = scored.find("mean NLL ");
  REQUIRE(at != std::string::npos);
  CHECK_THAT(std::stod(scored.substr(at + 9)), Catch::Matchers::WithinRel(-sum / double(rows), 1e-5));
}

TEST_CASE("fwp-synthetic: an interrupted run resumes inside the run and ends as an uninterrupted "
          "one and the summary is written as CSV and JSON", "[experiments][cli][synthetic]") {
  const std::string base = cat(FWP_SYNTHETIC_PROGRAM, " --setting 1 --S 6 --configs linear_sum",
                               " --max-steps 40 --eval-every 10 --eval-sequences 2 --threads 1");
  const std::string whole = scratch().path("syn_whole"), parts = scratch().path("syn_parts");
  auto [status, log] = run_command(cat(base, " --out ", whole));
  INFO(log);
  REQUIRE(status == 0);

  auto [stopped, log1] = run_command(cat(base, " --out ", parts, " --stop-after 15"));
  INFO(log1);
  CHECK(stopped == 130);
  CHECK_THAT(log1, HasSubstr("stopped at step 15"));
  const std::string ckpt = parts + "/checkpoints/setting1_linear_sum_S6_seed1.safetensors";
  CHECK(fs::exists(ckpt));
  auto [resumed, log2] = run_command(cat(base, " --out ", parts, " --resume"));
  INFO(log2);
  CHECK(resumed == 0);
  CHECK_THAT(log2, HasSubstr("resumed from " + ckpt + " at step 15"));
  CHECK_FALSE(fs::exists(ckpt));  // a finished run keeps no checkpoint

  // bit for bit: the same eval losses at the same steps, the same final row (but the timing)
  CHECK(read_file(parts + "/curves/setting1_linear_sum_S6.csv") ==
        read_file(whole + "/curves/setting1_linear_sum_S6.csv"));
  auto row = [](const std::string& dir) {
    const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/summary.json"));
    REQUIRE(j.size() == 1);
    return j[0];
  };
  const nlohmann::json a = row(whole), b = row(parts);
  CHECK(a["config"] == "linear_sum");
  CHECK(a["S"] == 6);
  CHECK(a["final_eval_loss"] == b["final_eval_loss"]);
  CHECK(a["best_eval_loss"] == b["best_eval_loss"]);
  CHECK(a["steps"] == b["steps"]);
  CHECK(a["stop_reason"] == b["stop_reason"]);
  CHECK_THAT(read_file(whole + "/summary.csv"), HasSubstr("1,linear_sum,6,1,"));

  // a sweep of three runs says, between runs, how many are left and when it should end
  auto [sweep, log3] = run_command(cat(FWP_SYNTHETIC_PROGRAM, " --setting 1 --S 4,5,6 --configs linear_sum",
                               " --max-steps 10 --eval-every 10 --eval-sequences 1 --threads 1 --out ",
                               scratch().path("syn_sweep")));
  INFO(log3);
  CHECK(sweep == 0);
  CHECK_THAT(log3, HasSubstr("sweep: 1 done in "));
  CHECK_THAT(log3, HasSubstr(", 2 to go: ETA "));
  CHECK_THAT(log3, HasSubstr(", 1 to go: ETA "));
}

TEST_CASE("fwp-mt: the default warm-up fits a short run and a second run without --resume leaves "
          "the folder as it was", "[experiments][cli][mt]") {
  const std::string out = scratch().path("mt_run");
  const std::string mt = cat(FWP_MT_PROGRAM, " --data ", scratch().path("data/bible-mt"),
                             " --d-model 16 --enc-layers 1 --dec-layers 1 --heads 2 --d-head 8",
                             " --d-ff 32 --max-tokens 64 --beam 1 --max-len-b 4 --schedule cosine",
                             " --eval-every 2 --threads 1 --out ", out);
  auto [status, log] = run_command(cat(mt, " --steps 3"));  // cosine: the old default warm-up (400) failed
  INFO(log);
  REQUIRE(status == 0);
  CHECK_THAT(log, HasSubstr("warm-up 0)"));
  CHECK_THAT(log, HasSubstr("ETA"));  // the first progress line, after step 1
  const std::string config = read_file(out + "/config.json");
  auto [status2, log2] = run_command(cat(mt, " --steps 4"));
  INFO(log2);
  CHECK(status2 == 1);
  CHECK_THAT(log2, HasSubstr("pass --resume"));
  CHECK(read_file(out + "/config.json") == config);
}

namespace {
// Every file of a folder with its bytes.
std::map<std::string, std::string> folder_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[e.path().string()] = read_file(e.path().string());
  return files;
}
}  // namespace

TEST_CASE("fwp-lm: a refused --resume leaves the run folder exactly as it was",
          "[experiments][cli][lm][resume]") {
  const std::string out = scratch().path("lm_refused_resume");
  auto [stopped, log] = run_command(lm(cat("--steps 4 --stop-after 2 --out ", out)));
  INFO(log);
  REQUIRE(stopped == 130);
  const auto before = folder_files(out);
  REQUIRE(before.count(out + "/checkpoint.safetensors"));

  // another model width: refused, nothing rewritten (config.json, command.txt, model.json, ...)
  const std::string wider = cat(FWP_LM_PROGRAM, " --data ", scratch().path("data/bible-lm"),
                                " --layers 1 --d-model 32 --heads 2 --d-head 8 --d-ff 32",
                                " --context 8 --batch 2 --min-count 1 --threads 1 --steps 4 --resume --out ", out);
  auto [status, log2] = run_command(wider);
  INFO(log2);
  CHECK(status == 1);
  CHECK_THAT(log2, HasSubstr("different configuration"));
  CHECK_THAT(log2, HasSubstr("d_model"));
  CHECK(folder_files(out) == before);

  // other data (another vocabulary): refused too, vocab.txt untouched
  const std::string other = scratch().path("data_other/bible-lm");
  fs::create_directories(other);
  for (const char* split : {"train", "valid", "test"})
    fwp::write_file_atomic(cat(other, "/", split, ".tokens"), "x y z w v u t s r q p o\nq p o x y\n");
  auto [status3, log3] = run_command(lm(cat("--steps 4 --resume --out ", out), other));
  INFO(log3);
  CHECK(status3 == 1);
  CHECK_THAT(log3, HasSubstr("different configuration"));
  CHECK(folder_files(out) == before);

  // the same command resumes and finishes
  auto [status4, log4] = run_command(lm(cat("--steps 4 --resume --out ", out)));
  INFO(log4);
  CHECK(status4 == 0);
  CHECK_THAT(log4, HasSubstr("at step 2"));
}

TEST_CASE("fwp-lm: divergence names the tensor and keeps only finite checkpoints, and evaluation "
          "verifies the checkpoint", "[experiments][cli][lm][divergence]") {
  // lr 1e200 overflows the parameters in the first update: refused before any checkpoint
  const std::string out = scratch().path("lm_diverged");
  auto [status, log] = run_command(lm(cat("--steps 5 --lr 1e200 --clip 0 --warmup 0 --schedule constant",
                                          " --checkpoint-every 1 --out ", out)));
  INFO(log);
  CHECK(status == 1);
  CHECK_THAT(log, HasSubstr("training diverged at step 1: parameter '"));
  CHECK_THAT(log, HasSubstr("holds non-finite values after the update"));
  CHECK_THAT(log, HasSubstr("no checkpoint was written"));
  CHECK_FALSE(fs::exists(out + "/checkpoint.safetensors"));

  // a healthy run, then its checkpoint damaged: --eval-only, --generate and --resume refuse it
  const std::string good = scratch().path("lm_verified");
  auto [status2, log2] = run_command(lm(cat("--steps 2 --eval-every 2 --out ", good)));
  INFO(log2);
  REQUIRE(status2 == 0);
  const std::string ckpt = good + "/checkpoint.safetensors";
  std::string bytes = read_file(ckpt);
  bytes[bytes.size() - 3] ^= 0x01;
  fwp::write_file_atomic(ckpt, bytes);
  for (const std::string& flags : {std::string(" --eval-only"), std::string(" --generate 'In the' --tokens 2")}) {
    auto [s, l] = run_command(cat(FWP_LM_PROGRAM, " --out ", good, flags));
    INFO(l);
    CHECK(s == 1);
    CHECK_THAT(l, HasSubstr("is corrupt: checksum"));
  }
  auto [s3, l3] = run_command(lm(cat("--steps 4 --resume --out ", good)));
  INFO(l3);
  CHECK(s3 == 1);
  CHECK_THAT(l3, HasSubstr("is corrupt: checksum"));
}

TEST_CASE("fwp-lm: resumed at its last step, results.json keeps the run's last training loss",
          "[experiments][cli][lm][resume]") {
  const std::string out = scratch().path("lm_final_resume");
  auto [status, log] = run_command(lm(cat("--steps 3 --eval-every 3 --log-every 1 --out ", out)));
  INFO(log);
  REQUIRE(status == 0);
  const double first = nlohmann::json::parse(read_file(out + "/results.json"))["train_loss"].get<double>();
  // a stale temporary file of a killed writer is removed on start
  fwp::write_file_atomic(out + "/.checkpoint.safetensors.tmp.999999999.0", "partial");
  auto [status2, log2] = run_command(lm(cat("--steps 3 --eval-every 3 --log-every 1 --resume --out ", out)));
  INFO(log2);
  REQUIRE(status2 == 0);
  const double again = nlohmann::json::parse(read_file(out + "/results.json"))["train_loss"].get<double>();
  CHECK(again > 0.0);
  CHECK_THAT(again, Catch::Matchers::WithinRel(first, 1e-6));
  CHECK_FALSE(fs::exists(out + "/.checkpoint.safetensors.tmp.999999999.0"));
}
