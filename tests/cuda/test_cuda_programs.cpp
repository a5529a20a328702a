// The programs end to end on the GPU (tag [cuda]): fwp-synthetic and fwp-lm train the same tiny
// model with --device cpu and --device cuda, and the losses they log (the synthetic curve's
// eval_loss, fwp-lm's metrics.csv train_loss) agree to 1e-4 relative at every row. The models
// start from the same host-initialised weights and draw the same batches (and dropout masks), so
// only the order of floating-point sums differs. Without a device (or an emulator standing in for
// the runtime) each case is skipped, as the rest of the [cuda] suite.
#include "tests/catch.h"
#include "tests/cuda/cuda_test.h"
#include "tests/run_command.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/file_io.h"

using fwp::cat;
namespace fs = std::filesystem;

namespace {

// The numbers of one column of a CSV file with a header row; an empty cell is skipped.
std::vector<double> csv_column(const std::string& path, const std::string& column) {
  std::istringstream lines(fwp::read_file(path));
  std::string line;
  REQUIRE(std::getline(lines, line));
  int index = -1, i = 0;
  std::istringstream header(line);
  for (std::string name; std::getline(header, name, ','); ++i)
    if (name == column) index = i;
  INFO(path << " has no column " << column);
  REQUIRE(index >= 0);
  std::vector<double> values;
  while (std::getline(lines, line)) {
    std::istringstream cells(line);
    std::string cell;
    for (int j = 0; j <= index; ++j) std::getline(cells, cell, ',');
    if (!cell.empty()) values.push_back(std::stod(cell));
  }
  return values;
}

// Runs `command --device <device>`; it must succeed.
void run_on(const std::string& command, const std::string& device) {
  auto [status, output] = fwp_test::run_command(cat(command, " --device ", device));
  INFO(command << " --device " << device << "\n" << output);
  REQUIRE(status == 0);
}

// Both runs logged the same rows, each loss within 1e-4 relative; prints the largest difference.
void check_same_losses(const std::vector<double>& cpu, const std::vector<double>& gpu,
                       const std::string& what) {
  INFO(what);
  REQUIRE(!cpu.empty());
  REQUIRE(gpu.size() == cpu.size());
  double worst = 0.0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("row " << i + 1 << ": cpu " << cpu[i] << ", cuda " << gpu[i]);
    CHECK(std::isfinite(gpu[i]));
    const double rel = std::abs(gpu[i] - cpu[i]) / std::max(std::abs(cpu[i]), 1e-12);
    CHECK(rel <= 1e-4);
    worst = std::max(worst, rel);
  }
  WARN(what << ": " << cpu.size() << " losses, largest relative difference cpu vs cuda " << worst);
}

}  // namespace

TEST_CASE("cuda: fwp-synthetic --device cuda logs the CPU run's eval losses", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  fwp_test::TinyCorporaFolder s("fwp_test_cuda_programs", FWP_MAKE_TINY_CORPORA);
  const std::string command = cat(FWP_SYNTHETIC_PROGRAM,
                                  " --setting 2 --configs dpfp1_delta --S 20 --max-steps 20"
                                  " --eval-every 5 --eval-sequences 2 --batch-size 8 --threads 1");
  run_on(cat(command, " --out ", s.path("cpu")), "cpu");
  run_on(cat(command, " --out ", s.path("cuda")), "cuda");
  const std::string curve = "/curves/setting2_dpfp1_delta_S20.csv";
  check_same_losses(csv_column(s.path("cpu") + curve, "eval_loss"),
                    csv_column(s.path("cuda") + curve, "eval_loss"), "fwp-synthetic eval_loss");
}

TEST_CASE("cuda: fwp-lm --device cuda logs the CPU run's training losses", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  fwp_test::TinyCorporaFolder s("fwp_test_cuda_programs", FWP_MAKE_TINY_CORPORA);
  const std::string command =
      cat(FWP_LM_PROGRAM, " --data ", s.path("data/bible-lm"),
          " --layers 1 --d-model 16 --heads 2 --d-head 8 --d-ff 32 --context 8 --batch 2",
          " --min-count 1 --threads 1 --steps 20 --log-every 1 --eval-every 20",
          " --valid-tokens 64");
  run_on(cat(command, " --out ", s.path("cpu")), "cpu");
  run_on(cat(command, " --out ", s.path("cuda")), "cuda");
  check_same_losses(csv_column(s.path("cpu") + "/metrics.csv", "train_loss"),
                    csv_column(s.path("cuda") + "/metrics.csv", "train_loss"),
                    "fwp-lm train_loss");
  check_same_losses(csv_column(s.path("cpu") + "/metrics.csv", "valid_loss"),
                    csv_column(s.path("cuda") + "/metrics.csv", "valid_loss"),
                    "fwp-lm valid_loss");
}
