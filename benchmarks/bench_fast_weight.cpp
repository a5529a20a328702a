// fwp-bench: the fused fast-weight ops (autograd/fast_weight_op.h) against their composed references.
// For each rule, head width d (Ddot = Dv = d), length T and number of sequences B*H it prints, as
// markdown table rows: ns per token-head of the kernels alone (forward; forward + backward, into
// preallocated buffers) with GFLOP/s against counted FLOPs; of the whole op through autograd
// (forward + backward: output allocation, the tape, gradient copies into the leaves); the bytes
// the op keeps for its backward (outputs included) and the peak extra bytes during forward +
// backward, from memory_stats(); and the same for the composed reference. Medians of --reps runs.
// Counted FLOPs per token-head: delta 6 d^2 forward, 20 d^2 forward + backward;
// sum (normalised) 4 d^2 forward, 14 d^2 forward + backward.
// --drift instead measures the f32 error of the delta rule's backward (which rebuilds W_{t-1} by
// subtraction) against f64 at T = 4096, for the whole sequence at once and for chains of segments
// of C steps (exact restarts every C steps: what segment checkpoints would give).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "benchmarks/bench_util.h"
#include "experiments/common/process.h"
#include "kernels/delta_rule.h"
#include "kernels/sum_rule.h"

using namespace fwp;
using bench::keys;
using bench::median;
using bench::rel_error;

namespace {

struct Config {
  std::vector<std::string> rules = {"delta", "sum"};
  std::vector<int64_t> d = {16, 32, 64, 128};
  std::vector<int64_t> T = {256, 1024, 4096};
  std::vector<int64_t> bh = {8, 64};
  int threads = 2;
  int reps = 5;
  int composed_reps = 3;
  double composed_budget_mb = 1500;  // skip the composed version where it would keep more
  bool drift = false;
  std::string device = "cpu";
};

struct Inputs {
  std::vector<Variable> x;  // q, k, v, beta (delta) or q, k, v (sum)
  std::vector<Tensor> grads;
};

// Keys and queries on the simplex, or with unit L2 norm (bench::keys); beta in (0.1, 0.9).
Inputs make_inputs(const std::string& rule, int64_t BH, int64_t T, int64_t d, DType dt,
                   uint64_t seed, bool l2 = false) {
  Rng rng(seed);
  Inputs in;
  in.x.emplace_back(keys({1, BH, T, d}, rng, l2, dt), true);
  in.x.emplace_back(keys({1, BH, T, d}, rng, l2, dt), true);
  in.x.emplace_back(Tensor::randn({1, BH, T, d}, rng, dt), true);
  if (rule == "delta") in.x.emplace_back(Tensor::uniform({1, BH, T}, rng, 0.1, 0.9, dt), true);
  in.grads.push_back(Tensor::randn({1, BH, T, d}, rng, dt));
  in.grads.push_back(Tensor::randn({1, BH, d, d}, rng, dt));
  if (rule == "sum") in.grads.push_back(Tensor::randn({1, BH, d}, rng, dt));
  return in;
}

std::vector<Variable> apply(const std::string& rule, bool fused, const std::vector<Variable>& x) {
  if (rule == "delta") {
    DeltaRuleResult r = fused ? delta_rule(x[0], x[1], x[2], x[3])
                              : delta_rule_reference(x[0], x[1], x[2], x[3]);
    return {r.y, r.state};
  }
  SumRuleResult r = fused ? sum_rule(x[0], x[1], x[2], true, 1e-6)
                          : sum_rule_reference(x[0], x[1], x[2], true, 1e-6);
  return {r.y, r.state, r.z};
}

struct Measurement {
  double fwd_ns = 0, total_ns = 0;  // medians, for the whole call (all token-heads)
  double kept_bytes = 0, peak_bytes = 0;
};

double elapsed_ns(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

// The forward and backward kernels alone, on buffers allocated once (f32, no initial state).
Measurement measure_kernels(const std::string& rule, Inputs& in, int reps) {
  const int64_t BH = in.x[0].size(1), T = in.x[0].size(2), d = in.x[0].size(3);
  auto buf = [](int64_t n) { return Tensor::empty({n}, DType::f32); };
  const float* q = in.x[0].value().data<float>();
  const float* k = in.x[1].value().data<float>();
  const float* v = in.x[2].value().data<float>();
  const float* gy = in.grads[0].data<float>();
  const float* gW = in.grads[1].data<float>();
  Tensor y = buf(BH * T * d), WT = buf(BH * d * d), saved = buf(BH * T * d), dq = buf(BH * T * d);
  Tensor dk = buf(BH * T * d), dv = buf(BH * T * d), dW0 = buf(BH * d * d), z = buf(BH * d);
  Tensor den = buf(BH * T), dbeta = buf(BH * T), dz0 = buf(BH * d);
  Tensor ws = buf(std::max(kernels::delta_rule_workspace_size<float>(BH, d, d),
                           kernels::sum_rule_workspace_size<float>(BH, d, d)));
  std::vector<double> fwd, total;
  for (int r = 0; r <= reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (rule == "delta") {
      const float* beta = in.x[3].value().data<float>();
      kernels::delta_rule_forward_cpu<float>(y.data<float>(), WT.data<float>(), saved.data<float>(),
                                             q, k, v, beta, nullptr, BH, T, d, d, ws.data<float>());
      auto t1 = std::chrono::steady_clock::now();
      kernels::delta_rule_backward_cpu<float>(
          dq.data<float>(), dk.data<float>(), dv.data<float>(), dbeta.data<float>(),
          dW0.data<float>(), gy, gW, q, k, beta, saved.data<float>(), WT.data<float>(), BH, T, d,
          d, ws.data<float>());
      auto t2 = std::chrono::steady_clock::now();
      if (r > 0) fwd.push_back(elapsed_ns(t0, t1)), total.push_back(elapsed_ns(t0, t2));
    } else {
      kernels::sum_rule_forward_cpu<float>(y.data<float>(), WT.data<float>(), z.data<float>(),
                                           den.data<float>(), q, k, v, nullptr, nullptr, true,
                                           1e-6f, BH, T, d, d, ws.data<float>());
      auto t1 = std::chrono::steady_clock::now();
      kernels::sum_rule_backward_cpu<float>(
          dq.data<float>(), dk.data<float>(), dv.data<float>(), dW0.data<float>(),
          dz0.data<float>(), gy, gW, in.grads[2].data<float>(), q, k, v, nullptr, nullptr,
          y.data<float>(), den.data<float>(), true, BH, T, d, d, ws.data<float>());
      auto t2 = std::chrono::steady_clock::now();
      if (r > 0) fwd.push_back(elapsed_ns(t0, t1)), total.push_back(elapsed_ns(t0, t2));
    }
  }
  Measurement m;
  m.fwd_ns = median(fwd);
  m.total_ns = median(total);
  return m;
}

// Forward, then backward with the fixed upstream gradients; one warm-up run, then `reps`.
Measurement measure(const std::string& rule, bool fused, Inputs& in, int reps) {
  using clock = std::chrono::steady_clock;
  std::vector<double> fwd, total;
  Measurement m;
  for (int r = 0; r <= reps; ++r) {
    for (Variable& v : in.x) v.zero_grad();
    reset_peak_memory();
    const int64_t base = memory_stats().current_bytes;
    auto t0 = clock::now();
    std::vector<Variable> out = apply(rule, fused, in.x);
    auto t1 = clock::now();
    const int64_t kept = memory_stats().current_bytes - base;
    backward(out, in.grads);
    auto t2 = clock::now();
    if (r == 0) continue;
    fwd.push_back(elapsed_ns(t0, t1));
    total.push_back(elapsed_ns(t0, t2));
    m.kept_bytes = static_cast<double>(kept);
    m.peak_bytes = static_cast<double>(memory_stats().peak_bytes - base);
  }
  m.fwd_ns = median(fwd);
  m.total_ns = median(total);
  return m;
}

void speed_table(const Config& cfg) {
  std::printf("| rule | d | T | B*H | kernels fwd ns/tok-head | GFLOP/s | kernels fwd+bwd "
              "ns/tok-head | GFLOP/s | op fwd+bwd ns/tok-head | op kept MB | op peak MB | "
              "composed fwd+bwd ns/tok-head | composed kept MB | composed peak MB | composed / op |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& rule : cfg.rules)
    for (int64_t d : cfg.d)
      for (int64_t T : cfg.T)
        for (int64_t BH : cfg.bh) {
          Inputs in = make_inputs(rule, BH, T, d, DType::f32, 1);
          const double n = static_cast<double>(BH * T);
          const double ffwd = (rule == "delta" ? 6.0 : 4.0) * d * d;
          const double ftot = (rule == "delta" ? 20.0 : 14.0) * d * d;
          Measurement kr = measure_kernels(rule, in, cfg.reps);
          Measurement f = measure(rule, true, in, cfg.reps);
          std::printf("| %s | %ld | %ld | %ld | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f ",
                      rule.c_str(), long(d), long(T), long(BH), kr.fwd_ns / n,
                      ffwd * n / kr.fwd_ns, kr.total_ns / n, ftot * n / kr.total_ns,
                      f.total_ns / n, f.kept_bytes / 1e6, f.peak_bytes / 1e6);
          // the composed version keeps about 8 (B, H, Dv, Ddot) f32 tensors per step
          const double estimate_mb = 8.0 * 4 * BH * T * d * d / 1e6;
          if (estimate_mb > cfg.composed_budget_mb) {
            std::printf("| skipped (~%.0f MB) | | | |\n", estimate_mb);
          } else {
            Measurement c = measure(rule, false, in, cfg.composed_reps);
            std::printf("| %.1f | %.2f | %.2f | %.1fx |\n", c.total_ns / n, c.kept_bytes / 1e6,
                        c.peak_bytes / 1e6, c.total_ns / f.total_ns);
          }
          std::fflush(stdout);
        }
}

// --device cuda: the fused op through autograd on the GPU, its inputs and upstream gradients
// copied there once. Launches are asynchronous, so each timing waits for the device before it
// reads the clock. (The kernel-only and composed columns, and the memory columns of the CPU's
// allocator, are the CPU table's.)
void device_table(const Config& cfg, Device dev) {
  using clock = std::chrono::steady_clock;
  std::printf("| rule | d | T | B*H | device | op fwd ns/tok-head | op fwd+bwd ns/tok-head |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const std::string& rule : cfg.rules)
    for (int64_t d : cfg.d)
      for (int64_t T : cfg.T)
        for (int64_t BH : cfg.bh) {
          Inputs host = make_inputs(rule, BH, T, d, DType::f32, 1);
          Inputs in;
          for (const Variable& v : host.x) in.x.emplace_back(v.value().to(dev), true);
          for (const Tensor& g : host.grads) in.grads.push_back(g.to(dev));
          std::vector<double> fwd, total;
          for (int r = 0; r <= cfg.reps; ++r) {  // run 0 warms up (allocator cache, first launch)
            for (Variable& v : in.x) v.zero_grad();
            bench::synchronize(dev);
            auto t0 = clock::now();
            std::vector<Variable> out = apply(rule, true, in.x);
            bench::synchronize(dev);
            auto t1 = clock::now();
            backward(out, in.grads);
            bench::synchronize(dev);
            auto t2 = clock::now();
            if (r > 0) fwd.push_back(elapsed_ns(t0, t1)), total.push_back(elapsed_ns(t0, t2));
          }
          const double n = static_cast<double>(BH * T);
          std::printf("| %s | %ld | %ld | %ld | %s | %.1f | %.1f |\n", rule.c_str(), long(d),
                      long(T), long(BH), cfg.device.c_str(), median(fwd) / n, median(total) / n);
          std::fflush(stdout);
        }
}

// The delta rule over [0, T) as a chain of fused calls on segments of C steps, each starting
// from the previous segment's final state: its backward restarts from an exact W every C steps.
std::vector<Variable> delta_in_segments(const std::vector<Variable>& x, const Variable& W0,
                                        int64_t C) {
  const int64_t T = x[0].size(2);
  std::vector<Variable> ys;
  Variable W = W0;
  for (int64_t s = 0; s < T; s += C) {
    const int64_t e = std::min(T, s + C);
    DeltaRuleResult r = delta_rule(slice(x[0], 2, s, e), slice(x[1], 2, s, e),
                                   slice(x[2], 2, s, e), slice(x[3], 2, s, e), W);
    ys.push_back(r.y);
    W = r.state;
  }
  return {concat(ys, 2), W};
}

void drift_table() {
  const int64_t BH = 4, T = 4096, d = 64;
  std::printf("| keys | run (f32) | y | W_T | dq | dk | dv | dbeta | dW0 |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (bool l2 : {false, true}) {
    std::vector<Tensor> ref;  // f64: outputs, then gradients of q, k, v, beta, W0
    for (int64_t C : {int64_t(0), T, int64_t(1024), int64_t(256), int64_t(64), int64_t(16),
                      int64_t(1)}) {
      const DType dt = C == 0 ? DType::f64 : DType::f32;
      Inputs in = make_inputs("delta", BH, T, d, dt, 5, l2);
      Rng rng(6);
      Variable W0(Tensor::randn({1, BH, d, d}, rng, DType::f64, 0.0, 0.5).to(dt), true);
      std::vector<Variable> out = delta_in_segments(in.x, W0, C == 0 ? T : C);
      backward(out, in.grads);
      std::vector<Tensor> got = {out[0].value(), out[1].value()};
      for (const Variable& v : in.x) got.push_back(v.grad());
      got.push_back(W0.grad());
      if (C == 0) {
        ref = got;
        continue;
      }
      std::printf("| %s | %s |", l2 ? "L2-normalised" : "sum-normalised",
                  C == T ? "one call (rebuild over 4096 steps)"
                         : ("segments of " + std::to_string(C)).c_str());
      for (size_t i = 0; i < got.size(); ++i) std::printf(" %.2e |", rel_error(got[i], ref[i]));
      std::printf("\n");
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"fwp-bench: fused fast-weight ops vs composed references (speed, memory, drift)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--rules", cfg.rules, "delta and/or sum")
      ->delimiter(',')
      ->check(CLI::IsMember({"delta", "sum"}));
  app.add_option("--d", cfg.d, "head widths (Ddot = Dv = d)")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--T", cfg.T, "sequence lengths")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--bh", cfg.bh, "numbers of sequences B*H")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--threads", cfg.threads, "OpenMP threads")->check(fwp::experiments::count_in(1, 1024));
  app.add_option("--reps", cfg.reps, "timed runs of the fused ops (median)")->check(fwp::experiments::count_in(1, 1000000));
  app.add_option("--composed-reps", cfg.composed_reps, "timed runs of the composed references")->check(fwp::experiments::count_in(1, 1000000));
  app.add_option("--composed-budget-mb", cfg.composed_budget_mb,
                 "skip the composed version where it would keep more than this")
      ->check(fwp::experiments::real_in(0, 1e9));
  app.add_flag("--drift", cfg.drift, "measure the f32 drift of the delta rule's backward instead");
  app.add_option("--device", cfg.device, "cpu, or cuda: time the fused ops on the GPU")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  fwp::experiments::one_line_errors(app, "fwp-bench");
  return fwp::experiments::guarded_main("fwp-bench", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  omp_set_num_threads(cfg.threads);
  const Device dev = fwp::experiments::check_device(cfg.device);
  FWP_CHECK(dev == Device::cpu || !cfg.drift, "--drift runs on the CPU (leave out --device cuda)");
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("fwp-bench: %d OpenMP threads, f32, OPENBLAS_CORETYPE=%s\n%s\n\n", cfg.threads,
              coretype ? coretype : "(unset)", bench::simd_line().c_str());
  if (cfg.drift) {
    drift_table();
  } else if (dev != Device::cpu) {
    device_table(cfg, dev);
  } else {
    speed_table(cfg);
  }
  return 0;
  });
}
