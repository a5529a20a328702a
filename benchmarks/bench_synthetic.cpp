// bench_synthetic: the median time of one training step (batch, forward, backward, Adam) of the
// synthetic retrieval model; scripts/bench_synthetic_torch.py times the same model in PyTorch and
// scripts/bench_synthetic.sh prints the ratio.
//   bench_synthetic --setting 1 --S 80 --config linear_sum --threads 1
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "autograd/delta_chunk_op.h"
#include "autograd/tape.h"
#include "benchmarks/bench_util.h"
#include "experiments/synthetic/retrieval_model.h"
#include "optim/optimizer.h"

using namespace fwp;
using namespace fwp::synthetic;

int main(int argc, char** argv) {
  int setting = 1, threads = 1, reps = 50, warmup = 5;
  int64_t S = 80, batch = 32;
  std::string config = "linear_sum";
  CLI::App app{"bench_synthetic: median training-step time of the retrieval model"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--setting", setting, "1 or 2")->check(fwp::experiments::count_in(1, 2));
  app.add_option("--S", S, "number of keys")->check(fwp::experiments::count_in(2, 10000));
  app.add_option("--config", config, "e.g. linear_sum, dpfp1_delta, softmax");
  app.add_option("--batch-size", batch, "batch size")->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--threads", threads, "OpenMP threads")->check(fwp::experiments::count_in(1, 1024));
  app.add_option("--reps", reps, "timed steps")->check(fwp::experiments::count_in(1, 1000000));
  app.add_option("--warmup", warmup, "untimed steps first")->check(fwp::experiments::count_in(0, 1000000));
  std::string algorithm = "automatic";
  app.add_option("--delta-algorithm", algorithm, "delta-rule kernels: automatic, sequential or chunkwise")
      ->check(CLI::IsMember({"automatic", "sequential", "chunkwise"}));
  fwp::experiments::one_line_errors(app, "bench_synthetic");
  return fwp::experiments::guarded_main("bench_synthetic", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  omp_set_num_threads(threads);
  set_delta_rule_algorithm(algorithm == "sequential"  ? DeltaRuleAlgorithm::sequential
                           : algorithm == "chunkwise" ? DeltaRuleAlgorithm::chunkwise
                                                      : DeltaRuleAlgorithm::automatic);
  RetrievalTask task(setting, S);
  Rng init(1), data(2);
  RetrievalModel model(config_from_name(config, S), init, 3);
  Adam optimizer(model.parameters(), AdamOptions{.lr = 1e-3});
  auto step = [&] {
    RetrievalBatch b = task.train_batch(batch, data);
    Variable loss = model.loss(model.forward(b), b.target);
    optimizer.zero_grad();
    backward(loss);
    optimizer.step();
  };
  bench::Timing t = bench::time_steps(step, warmup, reps);
  std::printf("fwp setting=%d config=%s S=%lld batch=%lld threads=%d: %.3f ms/step (median of %d; "
              "cpu %.3f ms), %.1f steps/s; %s\n", setting, config.c_str(), (long long)S,
              (long long)batch, threads, t.wall_ms, reps, t.cpu_ms, 1000.0 / t.wall_ms,
              bench::simd_line().c_str());
  return 0;
  });
}
