// Timing helpers shared by the benchmark programs: run a step a few times untimed (warm-up),
// then time `reps` runs and return the median in milliseconds (robust to the odd slow run).
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace fwp::bench {

inline double median_ms(const std::function<void()>& step, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return reps % 2 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
}

}  // namespace fwp::bench
