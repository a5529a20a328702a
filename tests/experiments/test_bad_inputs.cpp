// Every program over a table of bad inputs (issue: "no lost work and no silent garbage"): every
// numeric option below its range, NaN, inf, huge, fractional and not a number; unknown names;
// missing, empty, wrong-kind and corrupt files; a refused --resume. Each row must end with exit
// status 1 (no signal, no other status), exactly one line on stderr naming the option and the
// value (or the file), within a few seconds, and the run folder it points at exactly as it was.
#include "tests/catch.h"
#include "tests/run_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/file_io.h"

using fwp::cat;
namespace fs = std::filesystem;

namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

struct Scratch {
  fs::path dir = fs::temp_directory_path() / cat("fwp_test_bad_inputs_", ::getpid());
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    REQUIRE(std::system(cat(FWP_MAKE_TINY_CORPORA, " ", (dir / "data").string()).c_str()) == 0);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

const Scratch& scratch() {
  static Scratch s;
  return s;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The program with its base options, each replaced by the row's value when the row sets it.
std::string command(const std::string& program, const Options& base, const Options& row) {
  std::string c = program;
  for (const auto& [opt, value] : base) {
    bool replaced = false;
    for (const auto& r : row) replaced = replaced || r.first == opt;
    if (replaced) continue;
    c.append(" ").append(opt);
    if (!value.empty()) c.append(" ").append(quote(value));
  }
  for (const auto& [opt, value] : row) {  // appended piece by piece: GCC 12 warns (-Wrestrict,
    c.append(" ").append(opt);            // a false positive) on the chained operator+ here
    if (value != "<flag>") c.append(" ").append(quote(value));
  }
  return c;
}

// Every file under `dir` with its bytes ("<absent>" when there is no such path).
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {{"<absent>", ""}};
  if (fs::is_regular_file(dir)) return {{dir, fwp::read_file(dir)}};
  for (const auto& e : fs::recursive_directory_iterator(dir))
    files[e.path().string()] = e.is_regular_file() ? fwp::read_file(e.path().string()) : "<dir>";
  return files;
}

struct Row {
  Options options;                    // what the row sets (over the program's base)
  std::vector<std::string> expect;    // substrings of the error line
};

struct Outcome {
  int status = 0;
  bool signaled = false;
  double seconds = 0.0;
  std::string err;
};

Outcome run_timed(const std::string& cmd) {
  Outcome o;
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = ::popen(("timeout -s KILL 60 " + cmd + " 2>&1 >/dev/null").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) o.err.append(buf, n);
  const int status = ::pclose(p);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  o.signaled = !WIFEXITED(status) || WEXITSTATUS(status) == 137;  // timeout's kill: 128 + 9
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// Runs each row; returns the number of rows run.
int check_rows(const std::string& program, const Options& base, const std::vector<Row>& rows,
               const std::string& folder) {
  for (const Row& row : rows) {
    const std::string cmd = command(program, base, row.options);
    const auto before = snapshot(folder);
    const Outcome o = run_timed(cmd);
    INFO(cmd);
    INFO("stderr: " << o.err);
    CHECK_FALSE(o.signaled);
    CHECK(o.status == 1);
    CHECK(o.seconds < 10.0);  // refused up front, not after training or allocating
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);  // one line
    for (const std::string& s : row.expect) CHECK_THAT(o.err, fwp_test::HasSubstr(s));
    CHECK(snapshot(folder) == before);
  }
  return static_cast<int>(rows.size());
}

// A numeric option of a program: an integer count in [lo, ...] or a real with its bad values.
struct Numeric {
  std::string option;
  std::vector<std::string> bad;
};
std::vector<Row> numeric_rows(const std::vector<Numeric>& numbers) {
  std::vector<Row> rows;
  for (const Numeric& n : numbers)
    for (const std::string& v : n.bad) rows.push_back({{{n.option, v}}, {n.option, v}});
  return rows;
}
// The bad values of an integer option whose least value is lo.
std::vector<std::string> bad_counts(long long lo) {
  return {std::to_string(lo - 1), "nan", "inf", "1e30", "99999999999999999999", "2.5", "abc"};
}

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  fwp::write_file_atomic(path, text);
}

}  // namespace

TEST_CASE("fwp-lm refuses every bad input in one line, leaving the run folder as it was",
          "[experiments][cli][bad-inputs]") {
  const std::string run = scratch().path("lm_run"), data = scratch().path("data/bible-lm");
  const Options base = {{"--data", data}, {"--layers", "1"}, {"--d-model", "16"}, {"--heads", "2"},
                        {"--d-head", "8"}, {"--d-ff", "32"}, {"--context", "8"}, {"--batch", "2"},
                        {"--min-count", "1"}, {"--threads", "1"}, {"--steps", "2"},
                        {"--out", run}, {"--resume", ""}};
  auto [status, log] = fwp_test::run_command(command(FWP_LM_PROGRAM, base, {}));
  INFO(log);
  REQUIRE(status == 0);  // a finished run: every row below points at it with --resume

  std::vector<Row> rows = numeric_rows({
      {"--min-count", bad_counts(0)}, {"--max-vocab", bad_counts(0)}, {"--nu", bad_counts(1)},
      {"--m", bad_counts(1)}, {"--layers", bad_counts(1)}, {"--d-model", bad_counts(1)},
      {"--heads", bad_counts(1)}, {"--d-head", bad_counts(1)}, {"--d-ff", bad_counts(1)},
      {"--batch", bad_counts(1)}, {"--context", bad_counts(1)}, {"--steps", bad_counts(1)},
      {"--train-tokens", bad_counts(0)}, {"--warmup", bad_counts(0)},
      {"--log-every", bad_counts(1)}, {"--eval-every", bad_counts(1)},
      {"--checkpoint-every", bad_counts(1)}, {"--valid-tokens", bad_counts(0)},
      {"--eval-batch", bad_counts(1)}, {"--eval-context", bad_counts(1)},
      {"--eval-stride", bad_counts(0)}, {"--eval-slice", bad_counts(0)},
      {"--window-batch", bad_counts(1)}, {"--tokens", bad_counts(0)}, {"--bench", bad_counts(0)},
      {"--bench-warmup", bad_counts(0)}, {"--seed", bad_counts(0)}, {"--threads", bad_counts(0)},
      {"--cache-mb", bad_counts(0)}, {"--stop-after", bad_counts(0)},
      {"--lr", {"0", "-1", "nan", "inf", "abc"}}, {"--clip", {"nan", "inf", "-inf", "abc"}},
      {"--dropout", {"-0.1", "1", "nan", "abc"}}, {"--log-seconds", {"-1", "nan", "inf", "abc"}},
      {"--temperature", {"-1", "nan", "inf", "abc"}},
      {"--schedule", {"nonsense"}}, {"--sum-normalize", {"maybe"}}, {"--attention-normalize", {"maybe"}},
  });
  // names checked by the layers, files, and a refused resume
  const std::string a_file = scratch().path("data/bible-lm/train.tokens");
  const std::string config = scratch().path("lm_configs/");
  write(config + "bad.json", "{\"d_model\": ");
  write(config + "huge.json", "{\"d_model\": 5.5e37}");
  write(config + "fraction.json", "{\"d_model\": 1.5}");
  write(config + "negative.json", "{\"n_layers\": -3}");
  write(config + "type.json", "{\"dropout\": \"x\"}");
  write(config + "unknown.json", "{\"d_modle\": 16}");
  fs::create_directories(scratch().path("empty_dir"));
  rows.insert(rows.end(), {
      {{{"--attention", "nonsense"}}, {"--attention", "nonsense"}},
      {{{"--rule", "nonsense"}}, {"nonsense"}},
      {{{"--phi", "nonsense"}}, {"nonsense"}},
      {{{"--favor-redraw", "nonsense"}}, {"nonsense"}},
      {{{"--device", "tpu"}}, {"tpu"}},
      {{{"--data", "/nonexistent/folder"}}, {"/nonexistent/folder"}},
      {{{"--data", a_file}}, {a_file}},
      {{{"--data", scratch().path("empty_dir")}}, {scratch().path("empty_dir")}},
      {{{"--model-config", "/nonexistent.json"}}, {"--model-config", "/nonexistent.json"}},
      {{{"--model-config", config}}, {"--model-config", config}},
      {{{"--model-config", config + "bad.json"}}, {"--model-config", "bad.json"}},
      {{{"--model-config", config + "huge.json"}}, {"--model-config", "d_model", "5.5e+37"}},
      {{{"--model-config", config + "fraction.json"}}, {"--model-config", "d_model", "1.5"}},
      {{{"--model-config", config + "negative.json"}}, {"--model-config", "n_layers", "-3"}},
      {{{"--model-config", config + "type.json"}}, {"--model-config", "dropout"}},
      {{{"--model-config", config + "unknown.json"}}, {"--model-config", "d_modle"}},
      // a resume that does not fit the run is refused before anything in the folder changes
      {{{"--d-model", "32"}}, {"different configuration", "d_model"}},
      {{{"--seed", "2"}}, {"different configuration", "seed"}},
      {{{"--score", "/nonexistent.tokens"}}, {"/nonexistent.tokens"}},
  });
  const int n = check_rows(FWP_LM_PROGRAM, base, rows, run);

  // --out is a file; --eval-only and --generate on a folder without a run make nothing
  const std::string file_out = scratch().path("lm_out_file");
  write(file_out, "not a folder\n");
  const int m = check_rows(FWP_LM_PROGRAM, base, {{{{"--out", file_out}}, {file_out}}}, file_out) +
      check_rows(FWP_LM_PROGRAM, base, {{{{"--out", scratch().path("no_run")}, {"--eval-only", "<flag>"}}, {"no_run"}},
                                        {{{"--out", scratch().path("no_run")}, {"--generate", "In the"}}, {"no_run"}}},
                 scratch().path("no_run"));
  std::printf("fwp-lm: %d bad inputs refused\n", n + m);
}

TEST_CASE("fwp-mt refuses every bad input in one line, leaving the run folder as it was",
          "[experiments][cli][bad-inputs]") {
  const std::string run = scratch().path("mt_run");
  const Options base = {{"--data", scratch().path("data/bible-mt")}, {"--d-model", "16"},
                        {"--enc-layers", "1"}, {"--dec-layers", "1"}, {"--heads", "2"},
                        {"--d-head", "8"}, {"--d-ff", "32"}, {"--max-tokens", "64"}, {"--beam", "1"},
                        {"--max-len-b", "4"}, {"--steps", "2"}, {"--eval-every", "2"},
                        {"--threads", "1"}, {"--out", run}, {"--resume", ""}};
  auto [status, log] = fwp_test::run_command(command(FWP_MT_PROGRAM, base, {}));
  INFO(log);
  REQUIRE(status == 0);
  std::vector<Row> rows = numeric_rows({
      {"--d-model", bad_counts(1)}, {"--enc-layers", bad_counts(1)}, {"--dec-layers", bad_counts(1)},
      {"--heads", bad_counts(1)}, {"--d-head", bad_counts(1)}, {"--d-ff", bad_counts(1)},
      {"--favor-m", bad_counts(1)}, {"--dpfp-nu", bad_counts(1)}, {"--steps", bad_counts(0)},
      {"--warmup", bad_counts(0)}, {"--max-tokens", bad_counts(1)}, {"--log-every", bad_counts(1)},
      {"--eval-every", bad_counts(1)}, {"--valid-bleu-every", bad_counts(0)},
      {"--beam", bad_counts(1)}, {"--max-len-b", bad_counts(0)},
      {"--eval-max-tokens", bad_counts(1)}, {"--seed", bad_counts(0)}, {"--threads", bad_counts(0)},
      {"--dropout", {"-0.1", "1", "nan", "abc"}}, {"--lr", {"0", "-1", "nan", "inf", "abc"}},
      {"--clip", {"-1", "nan", "inf", "abc"}}, {"--label-smoothing", {"-0.1", "1", "nan", "abc"}},
      {"--weight-decay", {"-1", "nan", "inf", "abc"}}, {"--log-seconds", {"-1", "nan", "inf", "abc"}},
      {"--lenpen", {"-1", "nan", "inf", "1e300", "abc"}},
      {"--max-len-a", {"-1", "nan", "inf", "1e300", "abc"}},
      {"--enc-attention", {"nonsense"}}, {"--dec-attention", {"nonsense"}},
      {"--cross-attention", {"nonsense"}}, {"--schedule", {"nonsense"}},
  });
  rows.insert(rows.end(), {
      {{{"--enc-attention", "delta"}}, {"--enc-attention", "delta"}},
      {{{"--eval-splits", "valid,bogus"}}, {"bogus"}},
      {{{"--device", "tpu"}}, {"tpu"}},
      {{{"--data", "/nonexistent/folder"}}, {"/nonexistent/folder"}},
      {{{"--d-model", "32"}}, {"different configuration", "d_model"}},
      {{{"--lr", "0.001"}}, {"different configuration", "lr"}},
  });
  const int n = check_rows(FWP_MT_PROGRAM, base, rows, run) +
      check_rows(FWP_MT_PROGRAM, base, {{{{"--out", scratch().path("no_mt")}, {"--eval-only", "<flag>"}}, {"no_mt"}}},
                 scratch().path("no_mt"));
  std::printf("fwp-mt: %d bad inputs refused\n", n);
}

TEST_CASE("fwp-synthetic refuses every bad input in one line, leaving the run folder as it was",
          "[experiments][cli][bad-inputs]") {
  const std::string run = scratch().path("syn_run");
  const Options base = {{"--setting", "1"}, {"--S", "6"}, {"--configs", "linear_sum"},
                        {"--max-steps", "2"}, {"--eval-every", "1"}, {"--eval-sequences", "1"},
                        {"--threads", "1"}, {"--out", run}};
  auto [status, log] = fwp_test::run_command(command(FWP_SYNTHETIC_PROGRAM, base, {}));
  INFO(log);
  REQUIRE(status == 0);
  std::vector<Row> rows = numeric_rows({
      {"--nu", bad_counts(1)}, {"--m", bad_counts(1)}, {"--seed", bad_counts(0)},
      {"--max-steps", bad_counts(1)}, {"--batch-size", bad_counts(1)},
      {"--eval-every", bad_counts(1)}, {"--eval-sequences", bad_counts(1)},
      {"--patience", bad_counts(0)}, {"--stop-after", bad_counts(0)}, {"--threads", bad_counts(0)},
      {"--lr", {"0", "-1", "nan", "inf", "abc"}}, {"--stop-loss", {"-1", "nan", "inf", "abc"}},
      {"--setting", {"0", "3", "nan", "abc"}}, {"--phi", {"nonsense"}}, {"--rule", {"nonsense"}},
      {"--sweep", {"fig9"}},
      {"--S", {"0", "1", "10001", "-5", "abc", "9223372036854775800:9223372036854775807:1",
               "99999999999999999999", "20:10:1", "1:x:2", "2:10:0", "2:1000000:1", "6,,x"}},
  });
  rows.push_back({{{"--configs", "nonsense_sum"}}, {"nonsense"}});
  rows.push_back({{{"--device", "tpu"}}, {"tpu"}});
  const std::string file_out = scratch().path("syn_out_file");
  write(file_out, "not a folder\n");
  const int n = check_rows(FWP_SYNTHETIC_PROGRAM, base, rows, run) +
                check_rows(FWP_SYNTHETIC_PROGRAM, base, {{{{"--out", file_out}}, {file_out}}}, file_out);

  // a corrupt row in summary.csv (another process, or a person, wrote it) is one clear error
  const std::string broken = scratch().path("syn_broken");
  write(broken + "/summary.csv",
        "setting,config,S,seed,final_eval_loss,best_eval_loss,steps,seconds,train_steps_per_second,"
        "stop_reason\n1,linear_sum,x6,1,0.5,0.5,2,1,1,max steps\n");
  const Outcome o = run_timed(command(FWP_SYNTHETIC_PROGRAM, base, {{"--out", broken}}));
  INFO(o.err);
  CHECK(o.status == 1);
  CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
  CHECK_THAT(o.err, fwp_test::HasSubstr("summary.csv"));
  CHECK_THAT(o.err, fwp_test::HasSubstr("'x6'"));
  std::printf("fwp-synthetic: %d bad inputs refused\n", n + 1);
}

TEST_CASE("fwp-prepare-data and fwp-bleu refuse bad inputs in one line",
          "[experiments][cli][bad-inputs]") {
  const std::string out = scratch().path("prep_out");
  const std::string verse = scratch().path("raw/bad_verse.txt");
  write(verse, "Genesis 1:99999999999: In the beginning\n");
  const std::string rv = scratch().path("raw/rv.txt");
  write(rv, "Genesis 1:1: En el principio\n");
  const Options base = {{"--web", verse}, {"--rv", rv}, {"--out", out}};
  int n = check_rows(FWP_PREPARE_DATA_PROGRAM, base, {
      {{{"--web", "/nonexistent.txt"}}, {"/nonexistent.txt"}},
      {{{"--web", scratch().path("raw")}}, {scratch().path("raw"), "directory"}},
      {{}, {"99999999999", "out of range"}},
      {{{"--vocab-size", "0"}}, {"--vocab-size", "0"}},
      {{{"--vocab-size", "nan"}}, {"--vocab-size", "nan"}},
      {{{"--vocab-size", "99999999999"}}, {"--vocab-size", "99999999999"}},
      {{{"--seed", "-1"}}, {"--seed", "-1"}},
  }, out);
  const std::string hyp = scratch().path("data/bible-mt/test.en");
  n += check_rows(FWP_BLEU_PROGRAM, {{hyp, ""}, {hyp, ""}}, {
      {{{"--smooth", "sometimes"}}, {"--smooth", "sometimes"}},
  }, scratch().path("none"));
  n += check_rows(FWP_BLEU_PROGRAM, {}, {
      {{{"/nonexistent.hyp", "<flag>"}, {hyp, "<flag>"}}, {"/nonexistent.hyp"}},
      {{{scratch().path("raw"), "<flag>"}, {hyp, "<flag>"}}, {scratch().path("raw")}},
      {{{hyp, "<flag>"}}, {"no reference file"}},
  }, scratch().path("none"));
  std::printf("fwp-prepare-data, fwp-bleu: %d bad inputs refused\n", n);
}
