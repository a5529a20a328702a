// fwp-synthetic: the associative-retrieval experiments of the paper's Sec. 6.1 (Figures 2
// and 3; docs/THEORY.md section 9.1).
//   fwp-synthetic --setting 1 --S 40,80 --configs linear_sum,dpfp1_sum
//   fwp-synthetic --sweep fig1 --out runs/fig1       (a whole figure; re-running resumes it)
// Every finished run is appended to OUT/summary.csv (and OUT/summary.json); runs already there are
// skipped. A run in progress keeps a checkpoint in OUT/checkpoints/ at every evaluation, so an
// interrupted sweep (Ctrl-C, a crash) continues inside the run where it stopped. Several
// processes may share OUT (split the work with --configs or --S): each re-reads summary.csv before
// every run and merges its row into it under a lock (OUT/summary.csv.lock).
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <omp.h>

#include "core/error.h"
#include "core/file_io.h"
#include "experiments/common/cli_checks.h"
#include "experiments/common/distributed.h"
#include "experiments/common/process.h"
#include "experiments/common/run_utils.h"
#include "experiments/synthetic/train.h"

using namespace fwp;
using namespace fwp::synthetic;

namespace {

struct Config {
  int setting = 1;
  std::string S = "20";
  std::string configs;          // comma list of config names; empty = built from --phi/--rule
  std::string phi = "linear";
  int64_t nu = 1, m = 64;
  std::string rule = "sum";
  std::string sweep;            // fig1 | fig2 | demo
  uint64_t seed = 1;
  std::string device = "cpu";
  std::string out = "runs/synthetic";
  int64_t max_steps = 100000, batch_size = 32, eval_every = 100, eval_sequences = 20, patience = 10;
  double lr = 1e-3, stop_loss = 0.001;
  bool eval_at_train_length = false, force = false;
  bool resume = false;          // accepted; resuming is what every call does
  int64_t stop_after = 0;       // stop the current run with a checkpoint after this many steps
  bool setting_given = false;   // with --sweep: run only that setting's part of the sweep
  bool lr_given = false, batch_given = false;
  int threads = 0;
};

// The numbers of keys --S accepts.
constexpr int64_t kMinS = 2, kMaxS = 10000;

struct Job {
  int setting;
  std::string config;
  int64_t S;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) out.push_back(p);
  return out;
}

// The runs of one figure (or of the quick demo), in the order they are run.
std::vector<Job> sweep_jobs(const std::string& sweep) {
  std::vector<Job> jobs;
  auto add = [&](int setting, std::vector<std::string> configs, std::vector<int64_t> Ss) {
    for (const auto& c : configs)
      for (int64_t S : Ss) jobs.push_back({setting, c, S});
  };
  if (sweep == "fig1") {
    add(1, {"linear_sum", "dpfp1_sum", "dpfp2_sum", "dpfp3_sum", "favor64_sum", "favor128_sum",
            "favor512_sum", "softmax"}, experiments::parse_int_list("20:600:20"));
  } else if (sweep == "fig2") {
    add(2, {"linear_sum", "linear_delta", "dpfp1_sum", "dpfp1_delta", "dpfp2_sum", "dpfp2_delta",
            "tanh_fwm", "dpfp1_fwm", "linear_gdelta", "dpfp1_gdelta"},
        experiments::parse_int_list("20:200:20"));
  } else if (sweep == "demo") {
    add(1, {"linear_sum", "dpfp1_sum", "dpfp2_sum"}, {40, 80, 160});
    add(2, {"linear_sum", "linear_delta", "dpfp1_delta"}, {40, 80});
  } else {
    throw Error(cat("unknown sweep '", sweep, "' (expected fig1, fig2 or demo)"));
  }
  return jobs;
}

void print_config(const Config& c, const std::vector<Job>& jobs) {
  std::cout << "fwp-synthetic configuration\n"
            << "  out           " << c.out << "\n"
            << "  runs          " << jobs.size() << (c.sweep.empty() ? "" : " (sweep " + c.sweep + ")") << "\n"
            << "  seed          " << c.seed << "\n"
            << "  batch size    " << c.batch_size << ", Adam lr " << c.lr << "\n"
            << "  max steps     " << c.max_steps << ", eval every " << c.eval_every << " steps on "
            << c.eval_sequences << " sequences, stop at eval loss <= " << c.stop_loss
            << " or after " << c.patience + 1 << " evals without improvement\n"
            << "  eval length   " << (c.eval_at_train_length ? "training length" : "S (as the authors)") << "\n"
            << "  resume        runs already in summary.csv are not run again" << (c.force ? " (not: --force)" : "")
            << "; an interrupted run continues from " << c.out << "/checkpoints/\n"
            << "  device        " << c.device << ", threads " << omp_get_max_threads() << std::endl;
}

// A number of summary.csv (which other processes, and people, write too): an fwp::Error naming
// the file, the row and the column if it is not one.
template <typename T>
T summary_number(const std::string& path, const std::vector<std::string>& row, size_t column,
                 const std::string& name) {
  const std::string& v = row[column];
  T x{};
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  FWP_CHECK(!v.empty() && r.ec == std::errc() && r.ptr == v.data() + v.size(), "'", path,
            "': the row '", row[0], ",", row[1], ",", row[2], ",...' has ", name, " '", v,
            "', which is not a number");
  return x;
}

// Final eval loss per (setting, config) row and S column, for the runs of this invocation.
void print_table(const experiments::CsvTable& summary, const std::string& path,
                 const std::vector<Job>& jobs) {
  std::map<std::pair<int64_t, std::string>, std::map<int64_t, std::string>> cells;
  const int cs = summary.column("setting"), cc = summary.column("config"),
            cS = summary.column("S"), cl = summary.column("final_eval_loss");
  for (const auto& r : summary.rows())
    cells[{summary_number<int64_t>(path, r, cs, "setting"), r[cc]}]
         [summary_number<int64_t>(path, r, cS, "S")] = r[cl];
  int last_setting = 0;
  std::vector<int64_t> Ss;
  for (const Job& j : jobs) {
    if (j.setting != last_setting) {
      Ss.clear();
      for (const Job& k : jobs)
        if (k.setting == j.setting && std::find(Ss.begin(), Ss.end(), k.S) == Ss.end()) Ss.push_back(k.S);
      std::cout << "\nSetting " << j.setting << ": final eval loss\n" << std::setw(16) << "config";
      for (int64_t S : Ss) std::cout << std::setw(10) << ("S=" + std::to_string(S));
      std::cout << "\n";
      last_setting = j.setting;
    }
    if (j.S != Ss.front()) continue;  // one line per config
    std::cout << std::setw(16) << j.config;
    for (int64_t S : Ss) {
      auto& row = cells[{j.setting, j.config}];
      std::string v = "-";
      if (row.count(S)) {
        const double loss = summary_number<double>(path, {row[S], "", "", ""}, 0, "final_eval_loss");
        v = std::isnan(loss) ? "diverged" : experiments::format_double(loss, 3);
      }
      std::cout << std::setw(10) << v;
    }
    std::cout << "\n";
  }
  std::cout << std::flush;
}

int run(const Config& c) {
  const Device device = experiments::check_device(c.device);
  std::vector<Job> jobs;
  if (!c.sweep.empty()) {
    jobs = sweep_jobs(c.sweep);
    if (c.setting_given)
      std::erase_if(jobs, [&](const Job& j) { return j.setting != c.setting; });
    if (!c.configs.empty()) {  // keep only the listed configurations of the sweep
      std::vector<std::string> keep = split_commas(c.configs);
      std::erase_if(jobs, [&](const Job& j) {
        return std::find(keep.begin(), keep.end(), j.config) == keep.end();
      });
    }
  } else {
    std::vector<std::string> names = split_commas(c.configs);
    if (names.empty()) {
      ModelConfig m;
      set_rule(m, c.rule);
      m.phi.kind = feature_map_kind_from_string(c.phi);
      m.phi.nu = c.nu;
      m.phi.m = c.m;
      names.push_back(config_name(m));
    }
    for (const auto& n : names)
      for (int64_t S : experiments::parse_int_list(c.S, kMinS, kMaxS)) jobs.push_back({c.setting, n, S});
  }
  for (const Job& j : jobs) {  // reject bad names before any work, naming the option
    try {
      config_from_name(j.config, j.S);
    } catch (const Error& e) {
      throw Error(cat(c.sweep.empty() ? "--configs" : "--sweep", ": '", j.config, "': ", e.what()));
    }
  }
  print_config(c, jobs);

  // Under mpirun, several processes train each run together (experiments/common/distributed.h):
  // rank 0 alone prints and writes, and decides which runs are left to do.
  experiments::Communicator& comm = experiments::world();
  const bool root = comm.is_root();
  experiments::batch_share(c.batch_size, "--batch-size");  // refused before anything is written
  if (root) {
    experiments::make_dirs(c.out);  // shared by concurrent sweeps: only a new folder is undone
    experiments::make_dirs(c.out + "/curves");
    experiments::make_dirs(c.out + "/checkpoints");
    for (const char* dir : {"", "/curves", "/checkpoints"}) remove_stale_temp_files(c.out + dir);
  }
  experiments::check_same_on_all_ranks("the runs to do", jobs.size());
  const std::string summary_path = c.out + "/summary.csv";
  const std::vector<std::string> columns = {"setting", "config", "S", "seed", "final_eval_loss",
                                            "best_eval_loss", "steps", "seconds",
                                            "train_steps_per_second", "stop_reason"};
  experiments::CsvTable summary(columns);
  auto reload = [&] {  // rows other processes added since
    experiments::FileLock lock(summary_path + ".lock");
    summary.load(summary_path);
  };
  auto done = [&](const Job& j) {
    for (const auto& r : summary.rows())
      if (r[0] == std::to_string(j.setting) && r[1] == j.config && r[2] == std::to_string(j.S) &&
          r[3] == std::to_string(c.seed))
        return true;
    return false;
  };
  auto save_summary = [&] {  // under the lock
    summary.save(summary_path);
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : summary.rows()) {
      nlohmann::json row;
      for (const std::string& name : columns) {
        const std::string& v = r[summary.column(name)];
        if (name == "config" || name == "stop_reason") row[name] = v;
        else if (v == "nan") row[name] = nullptr;  // a diverged run
        else row[name] = summary_number<double>(summary_path, r, summary.column(name), name);
      }
      rows.push_back(row);
    }
    experiments::write_json(c.out + "/summary.json", rows);
    experiments::keep_run_folders();  // a finished run's row: a later failure keeps it
  };
  experiments::install_stop_handler();
  experiments::Stopwatch total;
  int64_t runs_done = 0;  // in this call, for the sweep's ETA
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& j = jobs[i];
    reload();
    if (!c.force && comm.broadcast(done(j))) {
      std::cout << "[" << i + 1 << "/" << jobs.size() << "] setting " << j.setting << " " << j.config
                << " S=" << j.S << ": already in " << summary_path << ", skipped" << std::endl;
      continue;
    }
    if (runs_done > 0) {  // a rough ETA: runs differ in length (larger S train longer)
      const double per_run = total.seconds() / double(runs_done);
      std::cout << "sweep: " << runs_done << " done in " << experiments::format_duration(total.seconds())
                << ", " << jobs.size() - i << " to go: ETA " << experiments::format_duration(per_run * double(jobs.size() - i))
                << " at that pace" << std::endl;
    }
    TrainConfig tc;
    tc.setting = j.setting;
    tc.model = config_from_name(j.config, j.S);
    tc.batch_size = c.batch_size;
    tc.lr = c.lr;
    if (!tc.model.softmax && tc.model.rule == UpdateRule::fwm &&
        tc.model.phi.kind == FeatureMapKind::tanh) {
      // The authors' setting for FWM with tanh keys (it did not train with the defaults).
      if (!c.lr_given) tc.lr = 1e-4;
      if (!c.batch_given) tc.batch_size = 128;
    }
    tc.max_steps = c.max_steps;
    tc.eval_every = c.eval_every;
    tc.eval_sequences = c.eval_sequences;
    tc.stop_loss = c.stop_loss;
    tc.patience = c.patience;
    tc.eval_at_train_length = c.eval_at_train_length;
    tc.seed = c.seed;
    tc.device = device;
    const std::string run_name = "setting" + std::to_string(j.setting) + "_" + j.config + "_S" +
                                 std::to_string(j.S);
    tc.curve_csv = c.out + "/curves/" + run_name + ".csv";
    tc.checkpoint = c.out + "/checkpoints/" + run_name + "_seed" + std::to_string(c.seed) + ".safetensors";
    if (c.force && root) std::remove(tc.checkpoint.c_str());  // --force: from step 0
    tc.stop_after = c.stop_after;
    std::cout << "[" << i + 1 << "/" << jobs.size() << "] setting " << j.setting << " " << j.config
              << " S=" << j.S << " (Ddot=" << (tc.model.softmax ? 0 :
                 feature_dim(tc.model.phi, tc.model.d_key)) << ", lr " << tc.lr << ", batch "
              << tc.batch_size << ")" << std::endl;
    TrainResult r = train_retrieval(tc, std::cout);
    if (r.interrupted) {
      std::cout << "stopped; run the same command again to continue" << std::endl;
      return 130;
    }
    ++runs_done;
    std::cout << "  -> final eval loss " << experiments::format_double(r.final_eval_loss, 4)
              << " after " << r.steps << " steps ("
              << r.stop_reason << ", " << experiments::format_duration(r.seconds) << ")" << std::endl;
    if (!root) continue;
    experiments::FileLock lock(summary_path + ".lock");
    summary.load(summary_path);
    if (c.force || !done(j))  // else another process finished the same run meanwhile
      summary.add_row({std::to_string(j.setting), j.config, std::to_string(j.S),
                       std::to_string(c.seed), experiments::format_double(r.final_eval_loss),
                       experiments::format_double(r.best_eval_loss), std::to_string(r.steps),
                       experiments::format_double(r.seconds, 4),
                       experiments::format_double(r.train_steps_per_second, 4), r.stop_reason});
    save_summary();
  }
  if (!root) return 0;
  reload();
  print_table(summary, summary_path, jobs);
  std::cout << "\nsummary: " << summary_path << " and summary.json (total "
            << experiments::format_duration(total.seconds()) << ")" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"fwp-synthetic: associative retrieval with fast weight programmers (paper Sec. 6.1)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  fwp::experiments::one_line_errors(app, "fwp-synthetic");
  app.add_option("--setting", c.setting, "1 = capacity (L = S), 2 = overwrite (L = 2S); with --sweep: only that part")->check(CLI::IsMember({1, 2}));
  app.add_option("--S", c.S, "number of keys: 40 | 40,80,160 | 20:600:20")->check(CLI::Validator(
      [](std::string& list) -> std::string {
        try {
          experiments::parse_int_list(list, kMinS, kMaxS);
          return "";
        } catch (const Error& e) {
          return e.what();
        }
      }, cat("LIST IN[", kMinS, ", ", kMaxS, "]")));
  app.add_option("--configs", c.configs, "comma list: linear_sum, dpfp2_delta, favor64_sum, softmax, ... (with --sweep: only these)");
  app.add_option("--phi", c.phi, "feature map when --configs is not given")->check(CLI::IsMember({"linear", "dpfp", "favor", "tanh", "identity"}));
  app.add_option("--nu", c.nu, "DPFP nu")->check(experiments::count_in(1, 64));
  app.add_option("--m", c.m, "FAVOR+ random features")->check(experiments::count_in(1, experiments::kMaxSize));
  app.add_option("--rule", c.rule, "update rule (layers/fast_weight_rules.h) or softmax")->check(CLI::IsMember(rule_names()));
  app.add_option("--sweep", c.sweep, "run a whole figure: fig1 | fig2 | demo")->check(CLI::IsMember({"fig1", "fig2", "demo"}));
  app.add_option("--seed", c.seed, "seed (reset for every run)")->check(experiments::count_in(0, experiments::kMaxSeed));
  app.add_option("--device", c.device, "cpu | cuda");
  app.add_option("--out", c.out, "output folder");
  app.add_option("--max-steps", c.max_steps, "training steps at most")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--batch-size", c.batch_size, "batch size (tanh_fwm: 128 unless given, as the authors)")->check(experiments::count_in(1, experiments::kMaxSize));
  app.add_option("--lr", c.lr, "Adam learning rate (tanh_fwm: 1e-4 unless given, as the authors)")->check(experiments::kPositive);
  app.add_option("--eval-every", c.eval_every, "steps between evaluations")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--eval-sequences", c.eval_sequences, "sequences per evaluation")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--stop-loss", c.stop_loss, "stop when the eval loss reaches this")->check(experiments::kNonNegative);
  app.add_option("--patience", c.patience, "stop after patience+1 evaluations without improvement")->check(experiments::count_in(0, experiments::kMaxSteps));
  app.add_flag("--eval-at-train-length", c.eval_at_train_length, "evaluate on training-length sequences (the authors use length S)");
  app.add_flag("--force", c.force, "re-run configurations already in summary.csv, from step 0");
  app.add_flag("--resume", c.resume, "skip finished runs, continue an interrupted one from OUT/checkpoints/ (what every call does; accepted as in fwp-lm and fwp-mt)");
  app.add_option("--stop-after", c.stop_after, "stop the current run with a checkpoint after this many steps (0: never)")->check(experiments::count_in(0, experiments::kMaxSteps));
  app.add_option("--threads", c.threads, "OpenMP threads (default: all cores)")->check(experiments::count_in(0, 1024));
  return experiments::guarded_main("fwp-synthetic", [&] {
    FWP_CLI_PARSE(app, argc, argv);
    c.setting_given = app.count("--setting") > 0;
    c.lr_given = app.count("--lr") > 0;
    c.batch_given = app.count("--batch-size") > 0;
    experiments::join_processes(c.threads);  // under mpirun: one of several processes
    if (c.threads > 0) omp_set_num_threads(c.threads);
    return experiments::run_processes("fwp-synthetic", [&] { return run(c); });
  });
}
