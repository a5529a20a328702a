// Helpers shared by the benchmark programs. Timing: a step runs `warmup` times untimed, then
// `reps` times timed; the medians (robust to the odd slow run) of wall time and of the process's
// CPU time (all threads) per step are returned. With one thread and other jobs on the machine,
// CPU time is the steadier of the two, and the minimum (the least disturbed run) is reported
// beside the median. Inputs: keys on the simplex or the unit sphere. Errors: max-norm relative.
#pragma once
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "experiments/common/cli_checks.h"  // option ranges, one-line errors (guarded_main)
#include "kernels/cpu/simd_isa.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace fwp::bench {

// The instruction set of the code compiled once (plain loops, the non-SIMD kernels): the build's
// target, -march=native with FWP_NATIVE.
inline const char* compiled_isa() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__aarch64__)
  return "neon";
#elif defined(__SSE2__)
  return "sse2";
#else
  return "generic";
#endif
}

// One line for a benchmark's header: which SIMD kernel copy ran (FWP_SIMD chooses another) and
// what the rest of the code was compiled for.
inline std::string simd_line() {
  return "SIMD kernels " + fwp::kernels::simd_description() + ", other code compiled for " +
         compiled_isa();
}

struct Timing {
  double wall_ms = 0.0, cpu_ms = 0.0;  // medians per step
};

// Waits for the device's queued work (a CUDA launch returns at once); nothing to wait for on
// the CPU. A timing of device work reads the clock only after this.
inline void synchronize(Device dev) {
#ifdef FWP_WITH_CUDA
  if (dev == Device::cuda) kernels::cuda::synchronize("bench");
#else
  (void)dev;
#endif
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// Median and minimum of one quantity over the timed runs (v must not be empty).
struct Stat {
  double median = 0, min = 0;
};
inline Stat stat_of(const std::vector<double>& v) {
  return {median(v), *std::min_element(v.begin(), v.end())};
}

inline double cpu_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Wall and process CPU time of one call of step, ms.
inline Timing time_once(const std::function<void()>& step) {
  const double c0 = cpu_now_ms();
  const auto t0 = std::chrono::steady_clock::now();
  step();
  const double wall =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return {wall, cpu_now_ms() - c0};
}

inline Timing time_steps(const std::function<void()>& step, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> wall, cpu;
  for (int i = 0; i < reps; ++i) {
    const Timing t = time_once(step);
    wall.push_back(t.wall_ms);
    cpu.push_back(t.cpu_ms);
  }
  return {median(wall), median(cpu)};
}

// Runs the steps round-robin, `warmup` untimed rounds, then `reps` timed ones, so that a change
// in the machine's load hits all of them alike; returns the ms of each step, of wall time or
// (cpu_clock) of the process's CPU time.
inline std::vector<Stat> time_round_robin(const std::vector<std::function<void()>>& steps,
                                          int warmup, int reps, bool cpu_clock) {
  std::vector<std::vector<double>> ms(steps.size());
  for (int r = 0; r < warmup + reps; ++r)
    for (size_t i = 0; i < steps.size(); ++i) {
      const Timing t = time_once(steps[i]);
      if (r >= warmup) ms[i].push_back(cpu_clock ? t.cpu_ms : t.wall_ms);
    }
  std::vector<Stat> out;
  for (const auto& v : ms) out.push_back(stat_of(v));
  return out;
}

// Rows of the last dimension on the simplex (entries ~ U(0.05, 1), divided by their sum), or
// with unit L2 norm when l2; drawn and normalised in f64, then converted to dt.
inline Tensor keys(const Shape& s, Rng& rng, bool l2, DType dt) {
  Tensor x = Tensor::uniform(s, rng, 0.05, 1.0, DType::f64);
  const int64_t D = s.back();
  double* p = x.data<double>();
  for (int64_t r = 0; r < x.numel() / D; ++r) {
    double n = 0;
    for (int64_t j = 0; j < D; ++j) n += l2 ? p[r * D + j] * p[r * D + j] : p[r * D + j];
    n = l2 ? std::sqrt(n) : n;
    for (int64_t j = 0; j < D; ++j) p[r * D + j] /= n;
  }
  return x.to(dt);
}

// max |a - b| / max |b|
inline double rel_error(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  double err = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err = std::max(err, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return err / scale;
}

}  // namespace fwp::bench
