// Every program over a table of bad inputs (issue: "no lost work and no silent garbage"): every
// numeric option below its range, NaN, inf, huge, fractional and not a number; unknown names;
// missing, empty, wrong-kind, unreadable and corrupt files; a read-only or full output; a refused
// --resume. Each row must end with exit
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
#include <tuple>
#include <vector>

#include "core/file_io.h"

using fwp::cat;
namespace fs = std::filesystem;

namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

// A scratch folder with the tiny corpora (data/bible-lm, data/bible-mt), removed at the end.
const fwp_test::TinyCorporaFolder& scratch() {
  static fwp_test::TinyCorporaFolder s("fwp_test_bad_inputs", FWP_MAKE_TINY_CORPORA);
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
  std::string wrapper = "";           // runs the program (a full disk, another user), or ""
};

// A full disk: files may not grow past 2 KiB (RLIMIT_FSIZE), so the first checkpoint or corpus
// file fails to write, as it would on a full disk (EFBIG instead of ENOSPC). SIGXFSZ, which would
// kill the program, is ignored, and exec keeps it ignored.
const std::string kFullDisk = "bash -c 'trap \"\" XFSZ; ulimit -f 2; exec \"$0\" \"$@\"'";

// Read-only folders and unreadable files only stop a user without root's rights: as root the test
// runs those rows as "nobody" (uid 65534), whom root-owned folders (0755) do not let write.
std::string unprivileged() {
  return ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "";
}
// Whether `program` runs as that user at all (it must reach the build folder and the scratch
// data); when it cannot, the rows that need it are skipped with a warning.
bool runs_unprivileged(const std::string& program) {
  const std::string wrapper = unprivileged();
  if (wrapper.empty()) return true;
  return std::system((wrapper + " " + program + " --help > /dev/null 2>&1").c_str()) == 0;
}

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
    const std::string cmd = (row.wrapper.empty() ? "" : row.wrapper + " ") +
                            command(program, base, row.options);
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

// A folder nobody but its owner may write (0555) and a copy of a corpus with one unreadable file.
std::string read_only_folder(const std::string& name) {
  const std::string dir = scratch().path(name);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  return dir;
}
std::string unreadable_copy(const std::string& corpus, const std::string& file) {
  const std::string copy = scratch().path("data/unreadable-" + fs::path(corpus).filename().string());
  fs::create_directories(copy);
  fs::copy(corpus, copy, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::permissions(copy + "/" + file, fs::perms::none);
  return copy;
}

// The rows of a full disk (a new run, and a run it must not harm) and of a read-only folder.
std::vector<Row> output_rows(const std::string& program, const std::string& tag,
                             const std::string& existing_run = "") {
  std::vector<Row> rows;
  const std::string fresh = scratch().path(tag + "_full");
  rows.push_back({{{"--out", fresh}}, {fresh}, kFullDisk});
  if (!existing_run.empty()) rows.push_back({{{"--out", existing_run}}, {existing_run}, kFullDisk});
  if (runs_unprivileged(program)) {
    const std::string locked = read_only_folder(tag + "_read_only") + "/run";
    rows.push_back({{{"--out", locked}}, {locked, "Permission denied"}, unprivileged()});
  } else {
    WARN(program << " cannot run as uid 65534 here: the read-only rows are skipped");
  }
  return rows;
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

  // A full disk or a read-only folder: a new run leaves no folder behind, and a run stopped at
  // step 1 (--stop-after) and resumed into a full disk is left exactly as it was, ready to resume.
  const std::string partial = scratch().path("lm_partial");
  std::tie(status, log) = fwp_test::run_command(command(FWP_LM_PROGRAM, base, {{"--out", partial}, {"--stop-after", "1"}}));
  REQUIRE(status == 130);
  int k = 0;
  for (const Row& row : output_rows(FWP_LM_PROGRAM, "lm", partial))
    k += check_rows(FWP_LM_PROGRAM, base, {row}, row.options[0].second);
  if (runs_unprivileged(FWP_LM_PROGRAM)) {
    if (!unprivileged().empty()) {  // a run folder another user owns
      k += check_rows(FWP_LM_PROGRAM, base, {{{{"--out", partial}}, {partial, "Permission denied"}, unprivileged()}}, partial);
    }
    const std::string unread = unreadable_copy(data, "train.tokens"), out = scratch().path("lm_unread");
    k += check_rows(FWP_LM_PROGRAM, base, {{{{"--data", unread}, {"--out", out}}, {"train.tokens", "Permission denied"}, unprivileged()}}, out);
  }

  // --out is a file; --eval-only and --generate on a folder without a run make nothing
  const std::string file_out = scratch().path("lm_out_file");
  write(file_out, "not a folder\n");
  const int m = check_rows(FWP_LM_PROGRAM, base, {{{{"--out", file_out}}, {file_out}}}, file_out) +
      check_rows(FWP_LM_PROGRAM, base, {{{{"--out", scratch().path("no_run")}, {"--eval-only", "<flag>"}}, {"no_run"}},
                                        {{{"--out", scratch().path("no_run")}, {"--generate", "In the"}}, {"no_run"}}},
                 scratch().path("no_run"));
  std::printf("fwp-lm: %d bad inputs refused\n", n + m + k);
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
  int n = check_rows(FWP_MT_PROGRAM, base, rows, run) +
      check_rows(FWP_MT_PROGRAM, base, {{{{"--out", scratch().path("no_mt")}, {"--eval-only", "<flag>"}}, {"no_mt"}}},
                 scratch().path("no_mt"));
  for (const Row& row : output_rows(FWP_MT_PROGRAM, "mt"))
    n += check_rows(FWP_MT_PROGRAM, base, {row}, row.options[0].second);
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
  rows.push_back({{{"--configs", "nonsense_sum"}}, {"--configs", "nonsense_sum", "unknown feature map"}});
  rows.push_back({{{"--configs", "linear_hebb"}}, {"--configs", "linear_hebb", "hebb"}});
  rows.push_back({{{"--device", "tpu"}}, {"tpu"}});
  const std::string file_out = scratch().path("syn_out_file");
  write(file_out, "not a folder\n");
  int n = check_rows(FWP_SYNTHETIC_PROGRAM, base, rows, run) +
          check_rows(FWP_SYNTHETIC_PROGRAM, base, {{{{"--out", file_out}}, {file_out}}}, file_out);
  for (const Row& row : output_rows(FWP_SYNTHETIC_PROGRAM, "syn"))
    n += check_rows(FWP_SYNTHETIC_PROGRAM, base, {row}, row.options[0].second);

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
  // a full disk leaves no half-written corpus behind (the first file over 2 KiB fails)
  const std::string verses = scratch().path("raw/verses.txt");
  std::string text;
  for (int v = 1; v <= 200; ++v) text += cat("Genesis 1:", v, ": In the beginning God created the heavens\n");
  write(verses, text);
  n += check_rows(FWP_PREPARE_DATA_PROGRAM, base, {{{{"--web", verses}, {"--rv", verses}}, {out}, kFullDisk}}, out);
  if (runs_unprivileged(FWP_PREPARE_DATA_PROGRAM)) {
    const std::string unread = scratch().path("raw/unreadable.txt");
    write(unread, "Genesis 1:1: In the beginning\n");
    fs::permissions(unread, fs::perms::none);
    n += check_rows(FWP_PREPARE_DATA_PROGRAM, base, {{{{"--web", unread}}, {unread, "Permission denied"}, unprivileged()}}, out);
  }
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

TEST_CASE("the benchmark programs refuse bad inputs in one line", "[experiments][cli][bad-inputs]") {
  std::vector<std::string> programs;
  for (std::string list = FWP_BENCHMARK_PROGRAMS; !list.empty();) {
    const size_t comma = list.find(',');
    programs.push_back(list.substr(0, comma));
    list = comma == std::string::npos ? "" : list.substr(comma + 1);
  }
  REQUIRE(programs.size() == 8);
  int n = 0;
  for (const std::string& program : programs)  // every one of them takes --reps
    n += check_rows(program, {}, {{{{"--reps", "0"}}, {"--reps", "0"}},
                                  {{{"--reps", "nan"}}, {"--reps", "nan"}},
                                  {{{"--reps", "99999999999999999999"}}, {"--reps"}},
                                  {{{"--no-such-option", "1"}}, {"--no-such-option"}}},
                    scratch().path("none"));
  std::printf("benchmarks: %d bad inputs refused\n", n);
}
