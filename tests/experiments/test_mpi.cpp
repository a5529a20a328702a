// Data-parallel training (experiments/common/distributed.h): fwp-lm on 2 processes under mpirun
// trains like 1 process on the same global batch, a 2-process run resumes as 1 process, and the
// job is refused (before its folder is written) when the batch does not divide or the processes
// disagree. Skipped, with a message, when this build has no MPI.
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

struct Scratch {
  fs::path dir = fs::temp_directory_path() / cat("fwp_test_mpi_", ::getpid());
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    REQUIRE(std::system(cat(FWP_MAKE_TINY_CORPORA, " ", (dir / "data").string(), " > /dev/null").c_str()) == 0);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

const Scratch& scratch() {
  static Scratch s;
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

// The train_loss column of a run's metrics.csv, one value per step.
std::vector<double> losses(const std::string& run) {
  std::istringstream in(fwp::read_file(run + "/metrics.csv"));
  std::string line;
  std::getline(in, line);
  REQUIRE(line.rfind("step,tokens,train_loss,", 0) == 0);
  std::vector<double> out;
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    out.push_back(std::stod(line.substr(b + 1, c - b - 1)));
  }
  return out;
}

void check_close(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == 20);
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
