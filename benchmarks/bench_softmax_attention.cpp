// bench_softmax_attention: the fused softmax-attention op (autograd/softmax_attention_op.h) against
// the composed one (layers/attention.h: matmul, scale, masked_fill, softmax, matmul) in the same
// run, f32, causal. For each (B*H, T, d): ms of forward and of forward + backward through autograd
// (median and minimum of --reps rounds, the two versions timed round-robin so that a change in the
// machine's load hits both alike), their ratio, and the bytes each keeps for its backward
// (outputs included, inputs not).
//   bench_softmax_attention --threads 2 --reps 11
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <string>

#include "autograd/softmax_attention_op.h"
#include "autograd/tape.h"
#include "benchmarks/bench_util.h"
#include "layers/attention.h"

using namespace fwp;

namespace {

struct Config {
  std::vector<int64_t> bh = {64}, T = {256, 1024}, d = {16, 64};
  int threads = 2, reps = 11;
};

using AttentionFn = std::function<Variable(const Variable&, const Variable&, const Variable&)>;

void run_shape(int64_t BH, int64_t T, int64_t d, const Config& c) {
  Rng rng(1);
  const std::vector<Tensor> in = {Tensor::randn({1, BH, T, d}, rng), Tensor::randn({1, BH, T, d}, rng),
                                  Tensor::randn({1, BH, T, d}, rng)};
  const Tensor g = Tensor::randn({1, BH, T, d}, rng);
  const AttentionFn fused = [](const Variable& q, const Variable& k, const Variable& v) {
    return fused_softmax_attention(q, k, v, true, 0, Tensor());
  };
  const AttentionFn composed = [](const Variable& q, const Variable& k, const Variable& v) {
    return softmax_attention_composed(q, k, v, true, 0, Tensor());
  };
  auto forward = [&](const AttentionFn& f) {
    return [&, f] {
      NoGradGuard no_grad;
      f(Variable(in[0]), Variable(in[1]), Variable(in[2]));
    };
  };
  auto forward_backward = [&](const AttentionFn& f) {
    return [&, f] {
      Variable q(in[0], true), k(in[1], true), v(in[2], true);
      backward({f(q, k, v)}, {g});
    };
  };
  auto kept = [&](const AttentionFn& f) {
    Variable q(in[0], true), k(in[1], true), v(in[2], true);
    const int64_t before = memory_stats().current_bytes;
    Variable y = f(q, k, v);
    const int64_t bytes = memory_stats().current_bytes - before;
    y = Variable();
    active_tape().clear();
    return bytes;
  };
  const std::vector<bench::Stat> s = bench::time_round_robin(
      {forward(fused), forward(composed), forward_backward(fused), forward_backward(composed)}, 2,
      c.reps, false);
  std::printf("%6lld %6lld %4lld | %8.2f (%7.2f) %8.2f (%7.2f) %6.2fx | %8.2f (%7.2f) %8.2f (%7.2f) %6.2fx | %10.1f %10.1f\n",
              (long long)BH, (long long)T, (long long)d, s[0].median, s[0].min, s[1].median,
              s[1].min, s[1].median / s[0].median, s[2].median, s[2].min, s[3].median, s[3].min,
              s[3].median / s[2].median, kept(fused) / 1048576.0, kept(composed) / 1048576.0);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"fused vs composed causal softmax attention, f32: ms per call and bytes kept"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--bh", c.bh, "batch x heads (list)")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--T", c.T, "sequence lengths (list)")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--d", c.d, "head widths (list)")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--threads", c.threads, "OpenMP threads")->check(fwp::experiments::count_in(1, 1024));
  app.add_option("--reps", c.reps, "timed rounds")->check(fwp::experiments::count_in(1, 1000000));
  fwp::experiments::one_line_errors(app, "bench_softmax_attention");
  return fwp::experiments::guarded_main("bench_softmax_attention", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  omp_set_num_threads(c.threads);
  const int threads = omp_get_max_threads();
  std::printf("threads %d, reps %d, f32, causal; ms per call: median (min); kept: MiB saved for the backward\n%s\n",
              threads, c.reps, bench::simd_line().c_str());
  std::printf("%6s %6s %4s | %-18s %-18s %7s | %-18s %-18s %7s | %10s %10s\n", "B*H", "T", "d",
              "fwd fused", "fwd composed", "ratio", "fwd+bwd fused", "fwd+bwd composed", "ratio",
              "kept fused", "kept comp.");
  for (int64_t BH : c.bh)
    for (int64_t T : c.T)
      for (int64_t d : c.d) run_shape(BH, T, d, c);
  return 0;
  });
}
