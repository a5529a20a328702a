// bench_gated_delta: the fused gated delta rule (autograd/gated_delta_rule_op.h) against the fused
// delta rule in the same run, f32. Three tables (--what speed,interval,drift):
//   speed:    ns per token-head of the kernels (forward; forward + backward) and of the whole op
//             through autograd (forward + backward), the bytes the op keeps for its backward
//             (outputs included) and the peak extra bytes, for each d, T and B*H given.
//             Counted FLOPs per token-head: delta 6 d^2 / 20 d^2, gated 7 d^2 / 27 d^2.
//   interval: the gated kernels' forward + backward for several checkpoint intervals C, with the
//             checkpoint memory (ceil(T/C) states per head) and the per-thread workspace.
//   drift:    why checkpoints: how far rebuilding W_{t-1} = (W_t - u_t k_t^T) / alpha_t in f32
//             drifts from the forward's own states, for several ranges of alpha; and the f32
//             error of the fused (checkpointed) op against f64 at T = 4096.
// Medians of --reps runs (wall time); run it on a quiet machine, the load is printed.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/gated_delta_rule_op.h"
#include "benchmarks/bench_util.h"
#include "kernels/delta_rule.h"
#include "kernels/gated_delta_rule.h"

using namespace fwp;

namespace {

struct Config {
  std::vector<std::string> what = {"speed", "interval", "drift"};
  std::vector<int64_t> d = {64}, T = {1024}, bh = {64}, C = {8, 16, 32, 64, 128, 1024};
  double alpha_lo = 0.9;  // alpha ~ U(alpha_lo, 1) for speed and interval
  int threads = 2, reps = 5;
};

// q, k, v, beta, alpha (1, BH, T, .) and random upstream gradients for y and W_T; keys and
// queries on the simplex (sum-normalised), as the layers feed them.
struct Inputs {
  std::vector<Variable> x;
  std::vector<Tensor> grads;
};
Inputs make_inputs(int64_t BH, int64_t T, int64_t d, double alpha_lo, DType dt, uint64_t seed) {
  Rng rng(seed);
  Inputs in;
  in.x.emplace_back(bench::keys({1, BH, T, d}, rng, false, dt), true);
  in.x.emplace_back(bench::keys({1, BH, T, d}, rng, false, dt), true);
  in.x.emplace_back(Tensor::randn({1, BH, T, d}, rng, dt), true);
  in.x.emplace_back(Tensor::uniform({1, BH, T}, rng, 0.1, 0.9, dt), true);
  in.x.emplace_back(Tensor::uniform({1, BH, T}, rng, alpha_lo, 1.0, dt), true);
  in.grads = {Tensor::randn({1, BH, T, d}, rng, dt), Tensor::randn({1, BH, d, d}, rng, dt)};
  return in;
}

const float* f(const Variable& v) { return v.value().data<float>(); }
double ms_to_ns_per(double ms, int64_t n) { return ms * 1e6 / double(n); }

// Median and minimum of one quantity over the timed runs (the machine is shared: the minimum is
// the least disturbed run, the median the typical one).
using bench::Stat;

// The steps round-robin (one warm-up round, then `reps` timed rounds; bench_util.h), in wall time
// or the process's CPU time (all threads; with one thread the steadier of the two on a busy
// machine).
bool g_cpu_clock = false;
std::vector<Stat> time_round_robin(const std::vector<std::function<void()>>& steps, int reps) {
  return bench::time_round_robin(steps, 1, reps, g_cpu_clock);
}

// The forward and backward kernels alone, on buffers allocated once (no initial state, gradients
// on y and W_T): the steps "forward" and "forward + backward". C is ignored by the delta rule.
struct KernelRun {
  std::vector<Tensor> bufs;
  std::function<void()> fwd, all;
};
std::shared_ptr<KernelRun> kernel_run(bool gated, Inputs& in, int64_t C) {
  const int64_t BH = in.x[0].size(1), T = in.x[0].size(2), d = in.x[0].size(3);
  auto run = std::make_shared<KernelRun>();
  auto buf = [&](int64_t n) {
    run->bufs.push_back(Tensor::empty({n}, DType::f32));
    return run->bufs.back().data<float>();
  };
  float *y = buf(BH * T * d), *WT = buf(BH * d * d), *dq = buf(BH * T * d), *dk = buf(BH * T * d);
  float *dv = buf(BH * T * d), *dbeta = buf(BH * T), *dalpha = buf(BH * T), *dW0 = buf(BH * d * d);
  float* saved = gated ? buf(BH * kernels::gated_delta_rule_checkpoints(T, C) * d * d) : buf(BH * T * d);
  float* ws = buf(gated ? kernels::gated_delta_rule_workspace_size<float>(BH, d, d, C)
                        : kernels::delta_rule_workspace_size<float>(BH, d, d));
  const float *q = f(in.x[0]), *k = f(in.x[1]), *v = f(in.x[2]), *beta = f(in.x[3]);
  const float *alpha = f(in.x[4]), *gy = in.grads[0].data<float>(), *gW = in.grads[1].data<float>();
  run->fwd = [=] {
    if (gated)
      kernels::gated_delta_rule_forward_cpu<float>(y, WT, saved, q, k, v, beta, alpha, nullptr, BH,
                                                   T, d, d, C, ws);
    else
      kernels::delta_rule_forward_cpu<float>(y, WT, saved, q, k, v, beta, nullptr, BH, T, d, d, ws);
  };
  auto fwd = run->fwd;
  run->all = [=] {
    fwd();
    if (gated)
      kernels::gated_delta_rule_backward_cpu<float>(dq, dk, dv, dbeta, dalpha, dW0, gy, gW, q, k, v,
                                                    beta, alpha, saved, BH, T, d, d, C, ws);
    else
      kernels::delta_rule_backward_cpu<float>(dq, dk, dv, dbeta, dW0, gy, gW, q, k, beta, saved,
                                              WT, BH, T, d, d, ws);
  };
  return run;
}

// The whole op through autograd (forward + backward); records the kept and peak extra bytes.
struct OpRun {
  double kept = 0, peak = 0;
};
std::function<void()> op_step(bool gated, Inputs& in, OpRun& r) {
  return [gated, &in, &r] {
    for (Variable& v : in.x) v.zero_grad();
    reset_peak_memory();
    const int64_t base = memory_stats().current_bytes;
    std::vector<Variable> out;
    if (gated) {
      GatedDeltaRuleResult o = gated_delta_rule(in.x[0], in.x[1], in.x[2], in.x[3], in.x[4]);
      out = {o.y, o.state};
    } else {
      DeltaRuleResult o = delta_rule(in.x[0], in.x[1], in.x[2], in.x[3]);
      out = {o.y, o.state};
    }
    r.kept = double(memory_stats().current_bytes - base);
    backward(out, in.grads);
    r.peak = double(memory_stats().peak_bytes - base);
  };
}

// "median (min)" in ns per token-head
std::string ns(const Stat& s, int64_t n) {
  char b[64];
  std::snprintf(b, sizeof b, "%.0f (%.0f)", ms_to_ns_per(s.median, n), ms_to_ns_per(s.min, n));
  return b;
}

void speed_table(const Config& cfg) {
  std::printf("ns per token-head as median (min) of %d round-robin runs; GFLOP/s from the median\n\n",
              cfg.reps);
  std::printf("| rule | d | T | B*H | kernels fwd | GFLOP/s | kernels fwd+bwd | GFLOP/s | op "
              "fwd+bwd | op kept MB | op peak MB |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int64_t d : cfg.d)
    for (int64_t T : cfg.T)
      for (int64_t BH : cfg.bh) {
        Inputs in = make_inputs(BH, T, d, cfg.alpha_lo, DType::f32, 1);
        const int64_t n = BH * T, C = gated_delta_rule_checkpoint_interval(T, d, d, DType::f32);
        auto kd = kernel_run(false, in, C), kg = kernel_run(true, in, C);
        OpRun od, og;
        std::vector<Stat> s = time_round_robin(
            {kd->fwd, kd->all, op_step(false, in, od), kg->fwd, kg->all, op_step(true, in, og)},
            cfg.reps);
        for (bool gated : {false, true}) {
          const Stat *st = &s[gated ? 3 : 0];
          const OpRun& o = gated ? og : od;
          const double ffwd = (gated ? 7.0 : 6.0) * d * d, fall = (gated ? 27.0 : 20.0) * d * d;
          std::printf("| %s | %ld | %ld | %ld | %s | %.1f | %s | %.1f | %s | %.2f | %.2f |\n",
                      gated ? ("gated_delta (C=" + std::to_string(C) + ")").c_str() : "delta",
                      long(d), long(T), long(BH), ns(st[0], n).c_str(),
                      ffwd * n / (st[0].median * 1e6), ns(st[1], n).c_str(),
                      fall * n / (st[1].median * 1e6), ns(st[2], n).c_str(), o.kept / 1e6,
                      o.peak / 1e6);
        }
        std::fflush(stdout);
      }
}

void interval_table(const Config& cfg) {
  std::printf("gated kernels, ns per token-head as median (min) of %d round-robin runs over the "
              "intervals\n\n| d | T | B*H | C | kernels fwd | kernels fwd+bwd | checkpoints MB | "
              "workspace per thread KB |\n|---|---|---|---|---|---|---|---|\n", cfg.reps);
  for (int64_t d : cfg.d)
    for (int64_t T : cfg.T)
      for (int64_t BH : cfg.bh) {
        Inputs in = make_inputs(BH, T, d, cfg.alpha_lo, DType::f32, 1);
        std::vector<std::shared_ptr<KernelRun>> runs;
        std::vector<std::function<void()>> steps;
        for (int64_t C : cfg.C) {
          runs.push_back(kernel_run(true, in, C));
          steps.push_back(runs.back()->fwd);
          steps.push_back(runs.back()->all);
        }
        std::vector<Stat> s = time_round_robin(steps, cfg.reps);
        for (size_t i = 0; i < cfg.C.size(); ++i) {
          const int64_t C = cfg.C[i];
          const double cp_mb = 4.0 * BH * kernels::gated_delta_rule_checkpoints(T, C) * d * d / 1e6;
          const double ws_kb = 4.0 * kernels::gated_delta_rule_workspace_size<float>(1, d, d, C) / 1e3;
          std::printf("| %ld | %ld | %ld | %ld | %s | %s | %.2f | %.0f |\n", long(d), long(T),
                      long(BH), long(C), ns(s[2 * i], BH * T).c_str(),
                      ns(s[2 * i + 1], BH * T).c_str(), cp_mb, ws_kb);
        }
        std::fflush(stdout);
      }
}

// max |a - b| / max |b| over the first n values
double rel_error(const float* a, const double* b, int64_t n) {
  double err = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    err = std::max(err, std::abs(double(a[i]) - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return err / scale;
}
using bench::rel_error;  // the same for whole tensors

// One sequence, T = 4096, d = 64, plain loops: the f32 forward keeps its states every 64 steps
// and the exact f64 states beside them; then W is rebuilt backwards from W_T in f32 by
// W_{t-1} = (W_t - u_t k_t^T) / alpha_t. Printed: the rebuilt state's error against the f64 one,
// and the f32 forward's own error there, after 64, 512 and 4096 rebuilt steps.
void rebuild_drift(double alpha_lo) {
  const int64_t T = 4096, d = 64, E = d * d, every = 64;
  Inputs in = make_inputs(1, T, d, alpha_lo, DType::f64, 7);
  const double *k = in.x[1].value().data<double>(), *v = in.x[2].value().data<double>();
  const double *beta = in.x[3].value().data<double>(), *alpha = in.x[4].value().data<double>();
  Rng rng(8);
  Tensor W0 = Tensor::randn({d, d}, rng, DType::f64, 0.0, 0.5);
  std::vector<double> W64(W0.data<double>(), W0.data<double>() + E), keep64((T / every + 1) * E);
  std::vector<float> W32(W64.begin(), W64.end()), keep32((T / every + 1) * E), u32(T * d);
  std::vector<float> k32(k, k + T * d);
  double log_prod = 0;  // log prod 1/alpha over the rebuilt steps, for the printout
  auto step = [&](auto& W, auto* u, int64_t t, auto real) {
    using R = decltype(real);
    for (int64_t i = 0; i < d; ++i) {
      R p = 0;
      for (int64_t j = 0; j < d; ++j) p += W[i * d + j] * R(k[t * d + j]);
      const R ui = R(beta[t]) * (R(v[t * d + i]) - R(alpha[t]) * p);
      if (u) u[t * d + i] = ui;
      for (int64_t j = 0; j < d; ++j) W[i * d + j] = R(alpha[t]) * W[i * d + j] + ui * R(k[t * d + j]);
    }
  };
  for (int64_t t = 0; t <= T; ++t) {
    if (t % every == 0) {
      std::copy(W64.begin(), W64.end(), keep64.begin() + (t / every) * E);
      std::copy(W32.begin(), W32.end(), keep32.begin() + (t / every) * E);
    }
    if (t == T) break;
    step(W64, static_cast<double*>(nullptr), t, 0.0);
    step(W32, u32.data(), t, 0.0f);
  }
  std::printf("| U(%.3f, 1) |", alpha_lo);
  for (int64_t t = T - 1; t >= 0; --t) {  // the rebuild, in f32
    const float a = float(alpha[t]);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) W32[i * d + j] = (W32[i * d + j] - u32[t * d + i] * k32[t * d + j]) / a;
    log_prod -= std::log(alpha[t]);
    const int64_t back = T - t;
    if (back == 64 || back == 512 || back == 4096)
      std::printf(" %.1e | %.2e | %.2e |", std::exp(log_prod),
                  rel_error(W32.data(), keep64.data() + (t / every) * E, E),
                  rel_error(keep32.data() + (t / every) * E, keep64.data() + (t / every) * E, E));
  }
  std::printf("\n");
  std::fflush(stdout);
}

void drift_tables() {
  std::printf("Rebuilding W_{t-1} = (W_t - u_t k_t^T) / alpha_t in f32 (T = 4096, d = 64): error "
              "of the rebuilt state against f64, beside the f32 forward's own error there, after "
              "n rebuilt steps (prod 1/alpha over them)\n\n");
  std::printf("| alpha | prod 1/alpha, n=64 | rebuilt | forward | prod, n=512 | rebuilt | forward "
              "| prod, n=4096 | rebuilt | forward |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (double lo : {1.0, 0.999, 0.99, 0.95, 0.9}) rebuild_drift(lo);
  std::printf("\nThe fused op (checkpoints) in f32 against f64, T = 4096, d = 64, 2 heads, W0 ~ "
              "N(0, 0.5), random upstream gradients on y and W_T: max|f32 - f64| / max|f64|\n\n");
  std::printf("| alpha | y | W_T | dq | dk | dv | dbeta | dalpha | dW0 |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  for (double lo : {1.0, 0.995, 0.9}) {
    std::vector<Tensor> res[2];
    for (DType dt : {DType::f64, DType::f32}) {
      Inputs in = make_inputs(2, 4096, 64, lo, dt, 9);
      Rng rng(10);
      Variable W0(Tensor::randn({1, 2, 64, 64}, rng, DType::f64, 0.0, 0.5).to(dt), true);
      GatedDeltaRuleResult r = gated_delta_rule(in.x[0], in.x[1], in.x[2], in.x[3], in.x[4], W0);
      backward({r.y, r.state}, in.grads);
      std::vector<Tensor>& o = res[dt == DType::f32];
      o = {r.y.value(), r.state.value()};
      for (const Variable& x : in.x) o.push_back(x.grad());
      o.push_back(W0.grad());
    }
    std::printf("| U(%.3f, 1) |", lo);
    for (size_t i = 0; i < res[0].size(); ++i) std::printf(" %.2e |", rel_error(res[1][i], res[0][i]));
    std::printf("\n");
  }
}

double load_1min() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"bench_gated_delta: the fused gated delta rule against the delta rule (speed, "
               "memory, checkpoint interval, drift)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--what", cfg.what, "speed, interval, drift")
      ->delimiter(',')
      ->check(CLI::IsMember({"speed", "interval", "drift"}));
  app.add_option("--d", cfg.d, "head widths (Ddot = Dv = d)")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--T", cfg.T, "sequence lengths")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--bh", cfg.bh, "numbers of sequences B*H")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--C", cfg.C, "checkpoint intervals for --what interval")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--alpha-lo", cfg.alpha_lo, "alpha ~ U(alpha_lo, 1)")->check(fwp::experiments::real_in(1e-3, 1));
  app.add_option("--threads", cfg.threads, "OpenMP threads")->check(fwp::experiments::count_in(1, 1024));
  app.add_option("--reps", cfg.reps, "timed runs (median)")->check(fwp::experiments::count_in(1, 1000000));
  app.add_flag("--cpu-clock", g_cpu_clock, "time with the process's CPU time instead of wall time");
  fwp::experiments::one_line_errors(app, "bench_gated_delta");
  return fwp::experiments::guarded_main("bench_gated_delta", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  omp_set_num_threads(cfg.threads);
  std::printf("bench_gated_delta: %d OpenMP threads, f32, %s, 1-min load %.2f\n%s\n\n",
              cfg.threads, g_cpu_clock ? "CPU time" : "wall time", load_1min(),
              bench::simd_line().c_str());
  for (const std::string& w : cfg.what) {
    if (w == "speed") speed_table(cfg);
    if (w == "interval") interval_table(cfg);
    if (w == "drift") drift_tables();
    std::printf("\n");
  }
  std::printf("1-min load at the end %.2f\n", load_1min());
  return 0;
  });
}
