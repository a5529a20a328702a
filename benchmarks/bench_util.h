// Timing helpers shared by the benchmark programs: a step runs `warmup` times untimed, then
// `reps` times timed; the medians (robust to the odd slow run) of wall time and of the process's
// CPU time (all threads) per step are returned. With one thread and other jobs on the machine,
// CPU time is the steadier of the two.
#pragma once
#include <time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace fwp::bench {

struct Timing {
  double wall_ms = 0.0, cpu_ms = 0.0;  // medians per step
};

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

inline double cpu_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

inline Timing time_steps(const std::function<void()>& step, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> wall, cpu;
  for (int i = 0; i < reps; ++i) {
    const double c0 = cpu_now_ms();
    auto t0 = std::chrono::steady_clock::now();
    step();
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(cpu_now_ms() - c0);
  }
  return {median(wall), median(cpu)};
}

}  // namespace fwp::bench
