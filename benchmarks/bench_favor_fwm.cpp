// bench_favor_fwm: medians of the fused FAVOR+ and FWM-rule ops against their composed twins at
// the sizes of the synthetic experiments (docs/THEORY.md section 9.1), f32, for 1 and 2 threads.
//   favor:  N = 19200 rows (32 x 600), Dk = 64, m in {64, 128, 512}: forward, forward + backward
//   fwm:    B in {32, 128}, H = 1, T = 400, Dk in {64, 128}, Dv = 200 (one-hot values), with and
//           without read-out; the composed reference once at B = 32, Dk = 64
//   ckpt:   the FWM kernels for several checkpoint intervals C (time and checkpoint memory)
//   delta:  the fused delta rule at the synthetic sizes, for the state-only question
//   drift:  how far rebuilding W_{t-1} = n_t W_t - u_t k_t^T (instead of checkpoints) drifts
// Run on a quiet machine (the 1-min load is printed before and after).
#include <cblas.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <tuple>

#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/fwm_rule_op.h"
#include "benchmarks/bench_util.h"
#include "kernels/fwm_rule.h"
#include "layers/feature_maps.h"

using namespace fwp;

namespace {

struct Config {
  int reps = 7;
  int warmup = 1;
  std::string what = "all";  // favor | fwm | ckpt | delta | drift | all
  std::vector<int> threads = {1, 2};
};

// Median and minimum of the wall time over `reps` timed calls, in ms (the machine is shared: the
// minimum is the least disturbed run, the median the typical one).
using Timing = bench::Stat;
Timing time_ms(const std::function<void()>& step, int warmup, int reps) {
  return bench::time_round_robin({step}, warmup, reps, false)[0];
}

// Two steps timed alternately, so that a change in the machine's load hits both alike.
std::pair<Timing, Timing> time_pair(const std::function<void()>& a, const std::function<void()>& b,
                                    int warmup, int reps) {
  const std::vector<Timing> t = bench::time_round_robin({a, b}, warmup, reps, false);
  return {t[0], t[1]};
}

// "median (min)"
std::string fmt(Timing t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f (%.1f)", t.median, t.min);
  return buf;
}

// Tensor memory at the peak of one call, above what was alive before it, MB.
double peak_mb(const std::function<void()>& step) {
  const int64_t before = memory_stats().current_bytes;
  reset_peak_memory();
  step();
  return double(memory_stats().peak_bytes - before) / 1e6;
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a;
  f >> a;
  return a;
}

void set_threads(int n) {
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

void bench_favor(const Config& c) {
  const int64_t N = 32 * 600, Dk = 64;
  std::printf("\nFAVOR+ features, N=%ld rows, Dk=%ld, f32, ms: median (min) of %d, fused and "
              "composed alternating\n", long(N), long(Dk), c.reps);
  std::printf("thr     m | fwd: fused          composed         ratio | fwd+bwd: fused      "
              "composed         ratio | peak MB fused, composed\n");
  for (int th : c.threads) {
    set_threads(th);
    for (int64_t m : {64, 128, 512}) {
      Rng rng(1);
      Tensor omega = favor_projection(Dk, m, rng, DType::f32);
      Variable x(Tensor::randn({N, Dk}, rng, DType::f32, 0.0, 0.5), true);
      Tensor g = Tensor::randn({N, 2 * m}, rng, DType::f32);
      // forward as in training (recorded); the tape is cleared after each, untaken backward
      auto fwd = [&](auto f) {
        return [&, f] {
          f(x, omega, 0.0);
          active_tape().clear();
        };
      };
      auto both = [&](auto f) {
        return [&, f] {
          x.zero_grad();
          backward({f(x, omega, 0.0)}, {g});
        };
      };
      auto [f1, c1] = time_pair(fwd(favor_plus), fwd(favor_plus_reference), c.warmup, c.reps);
      auto [f2, c2] = time_pair(both(favor_plus), both(favor_plus_reference), c.warmup, c.reps);
      std::printf("%3d %5ld | %-16s %-16s %5.2f | %-16s %-16s %5.2f | %5.0f %6.0f\n", th,
                  long(m), fmt(f1).c_str(), fmt(c1).c_str(), c1.median / f1.median,
                  fmt(f2).c_str(), fmt(c2).c_str(), c2.median / f2.median,
                  peak_mb(both(favor_plus)), peak_mb(both(favor_plus_reference)));
    }
  }
}

// Synthetic-like FWM inputs: tanh keys, one-hot values, beta in (0.2, 0.8).
struct FwmInputs {
  Tensor q, k, v, beta;
};
FwmInputs fwm_inputs(int64_t B, int64_t T, int64_t Dk, int64_t Dv) {
  Rng rng(2);
  FwmInputs in;
  in.q = Tensor::uniform({B, 1, T, Dk}, rng, -0.8, 0.8, DType::f32);
  in.k = Tensor::uniform({B, 1, T, Dk}, rng, -0.8, 0.8, DType::f32);
  std::vector<double> onehot(B * T * Dv, 0.0);
  for (int64_t r = 0; r < B * T; ++r) onehot[r * Dv + rng.randint(Dv)] = 1.0;
  in.v = Tensor::from_vector(onehot, {B, 1, T, Dv}, DType::f32);
  in.beta = Tensor::uniform({B, 1, T}, rng, 0.2, 0.8, DType::f32);
  return in;
}

// Forward, and forward + backward, of one FWM call with or without read-out (the two timed
// alternately); y gets a random upstream gradient, and so does W_T.
struct FwmTimes {
  Timing fwd_state, fwd_read, both_state, both_read;
  double peak_mb = 0;  // of one state-only forward + backward
};
FwmTimes time_fwm(const Config& c, const FwmInputs& in, bool fused, int reps) {
  Variable q(in.q, true), k(in.k, true), v(in.v, true), beta(in.beta, true);
  auto f = fused ? fwm_rule : fwm_rule_reference;
  Rng rng(3);
  const int64_t B = in.k.size(0), T = in.k.size(2), Dk = in.k.size(3), Dv = in.v.size(3);
  Tensor gy = Tensor::randn({B, 1, T, Dv}, rng, DType::f32);
  Tensor gW = Tensor::randn({B, 1, Dv, Dk}, rng, DType::f32);
  auto fwd = [&](bool read) {  // recorded as in training; the tape is cleared after each
    return [&, read] {
      f(read ? q : Variable(), k, v, beta, {}, false);
      active_tape().clear();
    };
  };
  auto both = [&](bool read) {
    return [&, read] {
      FwmRuleResult r = f(read ? q : Variable(), k, v, beta, {}, false);
      if (read)
        backward({r.y, r.state}, {gy, gW});
      else
        backward({r.state}, {gW});
    };
  };
  FwmTimes t;
  t.peak_mb = peak_mb(both(false));
  std::tie(t.fwd_state, t.fwd_read) = time_pair(fwd(false), fwd(true), c.warmup, reps);
  std::tie(t.both_state, t.both_read) = time_pair(both(false), both(true), c.warmup, reps);
  return t;
}

void bench_fwm(const Config& c) {
  const int64_t T = 400, Dv = 200;
  std::printf("\nFWM rule, H=1, T=%ld, Dv=%ld, f32, clamp_first_step=false, C=%ld; ms: median "
              "(min) of %d\n", long(T), long(Dv), long(fwm_rule_checkpoint_interval(T)), c.reps);
  std::printf("thr    B   Dk | state only: fwd   fwd+bwd          | with y: fwd       "
              "fwd+bwd          | peak MB\n");
  for (int th : c.threads) {
    set_threads(th);
    for (int64_t B : {32, 128})
      for (int64_t Dk : {64, 128}) {
        FwmTimes t = time_fwm(c, fwm_inputs(B, T, Dk, Dv), true, c.reps);
        std::printf("%3d %4ld %4ld | %-16s %-16s | %-16s %-16s | %.0f\n", th, long(B),
                    long(Dk), fmt(t.fwd_state).c_str(), fmt(t.both_state).c_str(),
                    fmt(t.fwd_read).c_str(), fmt(t.both_read).c_str(), t.peak_mb);
      }
    FwmTimes r = time_fwm(c, fwm_inputs(32, T, 64, Dv), false, std::min(c.reps, 3));
    std::printf("%3d   32   64 | composed reference, state only: fwd %s, fwd+bwd %s, peak %.0f MB"
                "\n", th, fmt(r.fwd_state).c_str(), fmt(r.both_state).c_str(), r.peak_mb);
  }
}

// The kernels alone for several checkpoint intervals: forward with checkpoints + backward.
void bench_checkpoints(const Config& c) {
  const int64_t T = 400, Dv = 200;
  std::printf("\nFWM kernels, state only, T=%ld, Dv=%ld, f32: forward + backward ms by checkpoint"
              " interval C: median (min), checkpoint memory\n", long(T), long(Dv));
  for (int th : c.threads) {
    set_threads(th);
    for (auto [B, Dk] : {std::pair<int64_t, int64_t>{32, 64}, {128, 128}}) {
      FwmInputs in = fwm_inputs(B, T, Dk, Dv);
      Rng rng(4);
      Tensor gW = Tensor::randn({B, Dv, Dk}, rng, DType::f32), WT = Tensor::empty({B, Dv, Dk});
      Tensor dk = Tensor::empty({B, T, Dk}), dv = Tensor::empty({B, T, Dv});
      Tensor dbeta = Tensor::empty({B, T});
      std::printf("threads %d, B=%ld, Dk=%ld:", th, long(B), long(Dk));
      for (int64_t C : {5, 10, 20, 40, 100, 400}) {
        Tensor cps = Tensor::empty({B, kernels::fwm_rule_checkpoints(T, C), Dk, Dv});
        Tensor ws = Tensor::empty({kernels::fwm_rule_workspace_size<float>(B, Dk, Dv, C)});
        const Timing ms = time_ms(
            [&] {
              kernels::fwm_rule_forward_cpu<float>(nullptr, WT.data<float>(), cps.data<float>(),
                                                   nullptr, in.k.data<float>(), in.v.data<float>(),
                                                   in.beta.data<float>(), nullptr, false, B, T, Dk,
                                                   Dv, C, ws.data<float>());
              kernels::fwm_rule_backward_cpu<float>(
                  nullptr, dk.data<float>(), dv.data<float>(), dbeta.data<float>(), nullptr,
                  nullptr, gW.data<float>(), nullptr, in.k.data<float>(), in.v.data<float>(),
                  in.beta.data<float>(), cps.data<float>(), false, B, T, Dk, Dv, C,
                  ws.data<float>());
            },
            c.warmup, c.reps);
        std::printf("  C=%ld: %s, %.0f MB", long(C), fmt(ms).c_str(), cps.nbytes() / 1e6);
      }
      std::printf("\n");
    }
  }
}

// The delta rule as the synthetic model calls it (q = k, y unused, gradient on the state only).
void bench_delta(const Config& c) {
  const int64_t T = 400, Dv = 200;
  std::printf("\nfused delta_rule, q = k, gradient on W_T only, H=1, T=%ld, Dv=%ld, f32 (ms)\n",
              long(T), long(Dv));
  for (int th : c.threads) {
    set_threads(th);
    for (auto [B, Dk] : {std::pair<int64_t, int64_t>{32, 128}, {128, 128}}) {
      FwmInputs in = fwm_inputs(B, T, Dk, Dv);
      Variable k(in.k, true), v(in.v), beta(in.beta, true);
      Rng rng(5);
      Tensor gW = Tensor::randn({B, 1, Dv, Dk}, rng, DType::f32);
      const Timing fwd = time_ms(
          [&] {
            delta_rule(k, k, v, beta);
            active_tape().clear();
          },
          c.warmup, c.reps);
      const Timing both = time_ms([&] { backward({delta_rule(k, k, v, beta).state}, {gW}); },
                                  c.warmup, c.reps);
      std::printf("threads %d, B=%ld, Ddot=%ld: fwd %s, fwd+bwd %s\n", th, long(B), long(Dk),
                  fmt(fwd).c_str(), fmt(both).c_str());
    }
  }
}

// Rebuilding the states backwards by W_{t-1} = n_t W_t - u_t k_t^T, in Real, against the states
// the forward kept; one sequence, one-hot values, beta = sigmoid(N(0, 1)).
template <typename Real>
void drift_case(const char* name, int kind, int64_t T, int64_t Dk, int64_t Dv) {
  Rng rng(6);
  std::vector<double> k(T * Dk), v(T * Dv, 0.0), beta(T);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < Dk; ++j) {
      const double z = 0.5 * rng.normal(), z2 = 0.5 * rng.normal();
      k[t * Dk + j] = kind == 0 ? std::tanh(2 * z) : std::max(0.0, z) * std::max(0.0, z2);
    }
    v[t * Dv + rng.randint(Dv)] = 1.0;
    beta[t] = 1.0 / (1.0 + std::exp(-rng.normal()));
  }
  const int64_t E = Dv * Dk;
  std::vector<Real> all((T + 1) * E, Real(0)), u(T * Dv), n(T, Real(1));
  int clamped = 0;
  double sum_n = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    const Real* Wp = &all[t * E];
    Real* W = &all[(t + 1) * E];
    Real sq = 0;
    for (int64_t i = 0; i < Dv; ++i) {
      Real vbar = 0;
      for (int64_t j = 0; j < Dk; ++j) vbar += Wp[i * Dk + j] * Real(k[t * Dk + j]);
      u[t * Dv + i] = Real(beta[t]) * (Real(v[t * Dv + i]) - vbar);
      for (int64_t j = 0; j < Dk; ++j) {
        W[i * Dk + j] = Wp[i * Dk + j] + u[t * Dv + i] * Real(k[t * Dk + j]);
        sq += W[i * Dk + j] * W[i * Dk + j];
      }
    }
    if (t > 0 && std::sqrt(sq) > Real(1)) {
      n[t] = std::sqrt(sq);
      ++clamped;
      sum_n += double(n[t]);
      for (int64_t e = 0; e < E; ++e) W[e] /= n[t];
    }
  }
  std::vector<Real> W(all.end() - E, all.end());
  double worst = 0.0;
  for (int64_t t = T - 1; t >= 1 && std::isfinite(worst); --t) {
    double err = 0.0, mag = 0.0;
    for (int64_t i = 0; i < Dv; ++i)
      for (int64_t j = 0; j < Dk; ++j) {
        Real& w = W[i * Dk + j];
        w = w * n[t] - u[t * Dv + i] * Real(k[t * Dk + j]);
        err = std::max(err, double(std::abs(w - all[t * E + i * Dk + j])));
        mag = std::max(mag, double(std::abs(all[t * E + i * Dk + j])));
      }
    worst = std::max(worst, err / mag);
  }
  std::printf("%-18s %s T=%3ld Dk=%3ld: clamped %3d of %3ld steps, mean n_t %.2f; worst "
              "|rebuilt - kept| / max|W| = %.3g\n", name, sizeof(Real) == 4 ? "f32" : "f64",
              long(T), long(Dk), clamped, long(T), sum_n / std::max(clamped, 1), worst);
}

void bench_drift() {
  std::printf("\nFWM backward by rebuilding states (what checkpoints replace), Dv = 200\n");
  for (int64_t T : {40, 400}) {
    drift_case<float>("tanh keys", 0, T, 64, 200);
    drift_case<double>("tanh keys", 0, T, 64, 200);
    drift_case<float>("relu-product keys", 1, T, 128, 200);
    drift_case<double>("relu-product keys", 1, T, 128, 200);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"fwp FAVOR+ and FWM-rule benchmark: medians, fused against composed"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--reps", c.reps, "timed repetitions")->check(fwp::experiments::count_in(1, 1000000));
  app.add_option("--warmup", c.warmup, "untimed repetitions first")->check(fwp::experiments::count_in(0, 1000000));
  app.add_option("--what", c.what, "favor, fwm, ckpt, delta, drift or all")
      ->check(CLI::IsMember({"favor", "fwm", "ckpt", "delta", "drift", "all"}));
  app.add_option("--threads", c.threads, "thread counts to run")->check(fwp::experiments::count_in(1, 1024));
  fwp::experiments::one_line_errors(app, "bench_favor_fwm");
  return fwp::experiments::guarded_main("bench_favor_fwm", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines appear as they are measured
  std::printf("fwp: %s, load before %s, reps %d, warmup %d\n", openblas_get_config(),
              loadavg().c_str(), c.reps, c.warmup);
  const bool all = c.what == "all";
  if (all || c.what == "favor") bench_favor(c);
  if (all || c.what == "fwm") bench_fwm(c);
  if (all || c.what == "ckpt") bench_checkpoints(c);
  if (all || c.what == "delta") bench_delta(c);
  if (all || c.what == "drift") bench_drift();
  std::printf("load after %s\n", loadavg().c_str());
  return 0;
  });
}
