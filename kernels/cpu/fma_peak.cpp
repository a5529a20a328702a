// The f32 FMA throughput of one core with this instruction set's vectors: the yardstick that the
// benchmarks hold their GFLOP/s against (kernels/cpu/simd_isa.h, fma_peak_gflops). kChains
// independent chains acc <- acc * a + b keep every FMA unit busy (a core issues at most 2 FMAs
// per cycle with a latency of at most 5 cycles on the CPUs fwp targets, so 10 chains suffice,
// and 12 accumulators plus a and b fit in the 16 registers of AVX2 and SSE). With a < 1 the
// values settle at b / (1 - a) = 1: no overflow, no denormals.
#include <time.h>

#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace fwp::kernels::FWP_SIMD_ISA {

double fma_peak_gflops(double seconds) {
  using V = Vec<float>;
  constexpr int kChains = 12;
  constexpr int64_t kBatch = 1 << 16;  // iterations between looks at the clock
  V acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = V{} + 1e-3f * float(c + 1);
  const V a = V{} + 0.999f, b = V{} + 0.001f;
  // the calling thread's CPU time, so that other jobs on the machine do not lower the figure
  auto now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  };
  const double t0 = now();
  int64_t iterations = 0;
  double elapsed = 0;
  do {
    for (int64_t i = 0; i < kBatch; ++i)
      for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;
    iterations += kBatch;
    elapsed = now() - t0;
  } while (elapsed < seconds);
  V sum{};
  for (int c = 0; c < kChains; ++c) sum += acc[c];
  volatile float sink = hsum(sum);  // keeps the loop: its result is used
  (void)sink;
  return double(iterations) * kChains * 2 * kLanes<float> / elapsed * 1e-9;
}

}  // namespace fwp::kernels::FWP_SIMD_ISA
