// Data-parallel training (experiments/common/distributed.h): fwp-lm on 2 processes under mpirun
// trains like 1 process on the same global batch, a 2-process run resumes as 1 process, the job
// is refused (before its folder is written) when the batch does not divide or the processes
// disagree, and fwp-mt (3 processes, uneven shares) and fwp-synthetic (2) follow 1 process too.
// Skipped, with a message, when this build has no MPI or mpirun cannot start processes here.
#include "tests/catch.h"
#include "tests/run_command.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/file_io.h"

using fwp::cat;
using fwp_test::HasSubstr;
using fwp_test::run_command;
namespace fs = std::filesystem;

namespace {

// A scratch folder with the tiny corpora (data/bible-lm, data/bible-mt), removed at the end.
const fwp_test::TinyCorporaFolder& scratch() {
  static fwp_test::TinyCorporaFolder s("fwp_test_mpi", FWP_MAKE_TINY_CORPORA);
  return s;
}

// A tiny LM, global batch 8, 20 steps, a metrics row (with the training loss) every step; one
// thread per process; no dropout (each process would draw its own rows' masks).
std::string lm(const std::string& flags, int batch = 8) {
  return cat(FWP_LM_PROGRAM, " --data ", scratch().path("data/bible-lm"), " --layers 1 --d-model 16",
             " --heads 2 --d-head 8 --d-ff 32 --context 8 --batch ", batch, " --min-count 1 --threads 1",
             " --dropout 0 --steps 20 --log-every 1 --eval-every 20 ", flags);
}

std::string mpirun(int n) {
  return cat(FWP_MPIEXEC, " -np ", n, " --oversubscribe", ::geteuid() == 0 ? " --allow-run-as-root" : "",
             " ");
}

// Column `column` (counted from 0) of a CSV file, from its second line on, as numbers.
std::vector<double> csv_column(const std::string& file, int column) {
  std::istringstream in(fwp::read_file(file));
  std::string line;
  std::getline(in, line);  // the header
  std::vector<double> out;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i <= column; ++i) std::getline(fields, field, ',');
    out.push_back(std::stod(field));
  }
  return out;
}

// The train_loss column of fwp-lm's metrics.csv, one value per step.
std::vector<double> losses(const std::string& run) {
  REQUIRE(fwp::read_file(run + "/metrics.csv").rfind("step,tokens,train_loss,", 0) == 0);
  return csv_column(run + "/metrics.csv", 2);
}

void check_close(const std::vector<double>& a, const std::vector<double>& b, size_t n = 20) {
  REQUIRE(a.size() == n);
  REQUIRE(b.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("step " << i + 1 << ": " << a[i] << " vs " << b[i]);
    CHECK(std::abs(a[i] - b[i]) <= 1e-5 * std::abs(a[i]));
  }
}

bool have_mpi() {
  if (std::string(FWP_MPIEXEC).empty()) {
    WARN("skipped: this build has no MPI (apt install libopenmpi-dev openmpi-bin, then reconfigure)");
    return false;
  }
  // mpirun itself must be able to start two processes here (a container may forbid it)
  static const auto [status, log] = run_command(mpirun(2) + "true");
  if (status != 0) {
    WARN("skipped: '" << mpirun(2) << "true' fails on this machine:\n" << log);
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("fwp-lm on 2 processes follows 1 process, and resumes on 1", "[experiments][mpi]") {
  if (!have_mpi()) return;
  const std::string one = scratch().path("one"), two = scratch().path("two"),
                    split = scratch().path("split");
  auto [s1, log1] = run_command(lm("--out " + one));
  INFO(log1);
  REQUIRE(s1 == 0);
  auto [s2, log2] = run_command(mpirun(2) + lm("--out " + two));
  INFO(log2);
  REQUIRE(s2 == 0);
  CHECK_THAT(log2, HasSubstr("1 per process, 2 processes"));
  check_close(losses(one), losses(two));
  CHECK(fs::exists(two + "/results.json"));

  // stopped with a checkpoint after 10 steps on 2 processes, finished on 1
  auto [s3, log3] = run_command(mpirun(2) + lm("--stop-after 10 --out " + split));
  INFO(log3);
  CHECK_THAT(log3, HasSubstr("stopped at step 10"));
  auto [s4, log4] = run_command(lm("--resume --out " + split));
  INFO(log4);
  REQUIRE(s4 == 0);
  CHECK_THAT(log4, HasSubstr("resumed from"));
  check_close(losses(one), losses(split));
}

TEST_CASE("fwp-lm under mpirun refuses a batch that does not divide and processes that disagree",
          "[experiments][mpi]") {
  if (!have_mpi()) return;
  const std::string odd = scratch().path("odd");
  auto [s1, log1] = run_command(mpirun(2) + lm("--out " + odd, 7));
  INFO(log1);
  CHECK(s1 != 0);
  CHECK_THAT(log1, HasSubstr("--batch 7 does not divide by the 2 processes"));
  CHECK_FALSE(fs::exists(odd));

  // two programs in one job (mpirun's A : B form) with different seeds
  const std::string seeds = scratch().path("seeds");
  auto [s2, log2] = run_command(cat(FWP_MPIEXEC, " --oversubscribe",
                                    ::geteuid() == 0 ? " --allow-run-as-root" : "", " -np 1 ",
                                    lm("--seed 1 --out " + seeds), " : -np 1 ",
                                    lm("--seed 2 --out " + seeds)));
  INFO(log2);
  CHECK(s2 != 0);
  CHECK_THAT(log2, HasSubstr("the ranks disagree on the configuration"));
  CHECK_FALSE(fs::exists(seeds));
}

TEST_CASE("fwp-mt on 3 processes (uneven shares of each batch) and fwp-synthetic on 2 follow 1 "
          "process", "[experiments][mpi]") {
  if (!have_mpi()) return;
  const std::string mt = cat(FWP_MT_PROGRAM, " --data ", scratch().path("data/bible-mt"),
                             " --d-model 16 --enc-layers 1 --dec-layers 1 --heads 2 --d-head 8",
                             " --d-ff 32 --max-tokens 64 --dropout 0 --label-smoothing 0.1",
                             " --steps 10 --log-every 1 --eval-every 5 --eval-splits valid",
                             " --beam 1 --max-len-b 4 --threads 1 --out ");
  const std::string mt1 = scratch().path("mt1"), mt3 = scratch().path("mt3");
  auto [s1, log1] = run_command(mt + mt1);
  INFO(log1);
  REQUIRE(s1 == 0);
  auto [s3, log3] = run_command(mpirun(3) + mt + mt3);
  INFO(log3);
  REQUIRE(s3 == 0);
  REQUIRE(fwp::read_file(mt1 + "/metrics.csv").find("tokens_seen,train_loss,train_nll") != std::string::npos);
  check_close(csv_column(mt1 + "/metrics.csv", 3), csv_column(mt3 + "/metrics.csv", 3), 10);
  check_close(csv_column(mt1 + "/metrics.csv", 2), csv_column(mt3 + "/metrics.csv", 2), 10);  // tokens
  CHECK(fs::exists(mt3 + "/results.json"));

  const std::string synthetic = cat(FWP_SYNTHETIC_PROGRAM, " --setting 2 --S 8 --configs dpfp1_delta",
                                    " --max-steps 30 --eval-every 10 --eval-sequences 64 --threads 1 --out ");
  const std::string sy1 = scratch().path("sy1"), sy2 = scratch().path("sy2");
  auto [s4, log4] = run_command(synthetic + sy1);
  INFO(log4);
  REQUIRE(s4 == 0);
  auto [s5, log5] = run_command(mpirun(2) + synthetic + sy2);
  INFO(log5);
  REQUIRE(s5 == 0);
  const std::string curve = "/curves/setting2_dpfp1_delta_S8.csv";  // step, eval_loss
  check_close(csv_column(sy1 + curve, 1), csv_column(sy2 + curve, 1), 3);
}
