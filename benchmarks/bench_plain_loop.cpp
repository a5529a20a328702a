// bench_plain_loop: the fused delta-rule kernels against a straightforward vectorised C loop, the
// reference of the speed target: the pseudo-code of docs/THEORY.md section 7.2 written plainly (one
// pass over W or A per line of the math, W and A row-major (Dv, Dk), inner loops unit-stride with
// `omp simd` on the dot products so the compiler may vectorise them), compiled with the same -O3
// -march=native and run in an OpenMP loop over the sequences with the same threads. Prints ns per
// token-head forward and forward + backward for both, the ratio, and GFLOP/s against the
// counted 6 d^2 / 20 d^2, also as a fraction of the cores' FMA peak with the SIMD copy's vectors
// (kernels/cpu/fma_peak.cpp; for the plain loops, compiled for the build's target, the same
// yardstick is exact only when that target's vectors are the copy's).
//   bench_plain_loop --d 64 --T 1024 --bh 64 --threads 2 --reps 7
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "benchmarks/bench_util.h"
#include "core/tensor.h"
#include "kernels/delta_rule.h"

using namespace fwp;

namespace {

// One sequence, forward: vbar = W k; u = beta (v - vbar); W += u k^T; y = W q. Saves v - vbar.
void plain_forward(float* y, float* W, float* saved, const float* q, const float* k,
                   const float* v, const float* beta, int64_t T, int64_t d) {
  std::fill(W, W + d * d, 0.0f);
  for (int64_t t = 0; t < T; ++t) {
    const float *kt = k + t * d, *qt = q + t * d;
    for (int64_t i = 0; i < d; ++i) {
      float vbar = 0;
#pragma omp simd reduction(+ : vbar)
      for (int64_t j = 0; j < d; ++j) vbar += W[i * d + j] * kt[j];
      saved[t * d + i] = v[t * d + i] - vbar;
      const float ui = beta[t] * saved[t * d + i];
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) W[i * d + j] += ui * kt[j];
    }
    for (int64_t i = 0; i < d; ++i) {
      float acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < d; ++j) acc += W[i * d + j] * qt[j];
      y[t * d + i] = acc;
    }
  }
}

// One sequence, backward (docs/THEORY.md section 7.2), W = W_T and A = dL/dW_T in, A = dW0 out.
void plain_backward(float* dq, float* dk, float* dv, float* dbeta, float* W, float* A,
                    const float* gy, const float* q, const float* k, const float* beta,
                    const float* saved, int64_t T, int64_t d, float* a) {
  for (int64_t t = T - 1; t >= 0; --t) {
    const float *qt = q + t * d, *kt = k + t * d, *g = gy + t * d, *dt = saved + t * d;
    float *dqt = dq + t * d, *dkt = dk + t * d;
    const float b = beta[t];
    std::fill(dqt, dqt + d, 0.0f);
    std::fill(dkt, dkt + d, 0.0f);
    dbeta[t] = 0;
    for (int64_t i = 0; i < d; ++i) {  // A += g q^T;  dq = W^T g;  a = A k
      float ai = 0;
#pragma omp simd reduction(+ : ai)
      for (int64_t j = 0; j < d; ++j) {
        A[i * d + j] += g[i] * qt[j];
        dqt[j] += g[i] * W[i * d + j];
        ai += A[i * d + j] * kt[j];
      }
      a[i] = ai;
      dv[t * d + i] = b * ai;
      dbeta[t] += ai * dt[i];
    }
    for (int64_t i = 0; i < d; ++i) {  // dk = A^T u;  W -= u k^T;  dk -= beta W^T a;  A -= beta a k^T
      const float ui = b * dt[i], bai = b * a[i];
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) {
        dkt[j] += ui * A[i * d + j];
        W[i * d + j] -= ui * kt[j];
        dkt[j] -= bai * W[i * d + j];
        A[i * d + j] -= bai * kt[j];
      }
    }
  }
}

double now_ns() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t d = 64, T = 1024, BH = 64;
  int threads = 2, reps = 7;
  CLI::App app{"bench_plain_loop: fused delta-rule kernels vs plain loops (f32)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--d", d, "head width (Ddot = Dv = d)")->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--T", T, "sequence length")->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--bh", BH, "independent sequences B*H")->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--threads", threads, "OpenMP threads")->check(fwp::experiments::count_in(1, 1024));
  app.add_option("--reps", reps, "timed runs (median; one untimed run first)")->check(fwp::experiments::count_in(1, 1000000));
  fwp::experiments::one_line_errors(app, "bench_plain_loop");
  return fwp::experiments::guarded_main("bench_plain_loop", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  omp_set_num_threads(threads);
  kernels::active_simd_isa();  // a bad FWP_SIMD fails here, with its message

  Rng rng(1);
  const DType f = DType::f32;
  Tensor q = Tensor::uniform({BH * T, d}, rng, 0.0, 2.0 / d, f);  // about sum-normalised
  Tensor k = Tensor::uniform({BH * T, d}, rng, 0.0, 2.0 / d, f);
  Tensor v = Tensor::randn({BH * T, d}, rng, f), beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, f);
  Tensor gy = Tensor::randn({BH * T, d}, rng, f), gW = Tensor::randn({BH, d, d}, rng, f);
  Tensor y = Tensor::empty({BH * T, d}, f), W = Tensor::empty({BH, d, d}, f);
  Tensor saved = Tensor::empty({BH * T, d}, f), dq = Tensor::empty({BH * T, d}, f);
  Tensor dk = Tensor::empty({BH * T, d}, f), dv = Tensor::empty({BH * T, d}, f);
  Tensor dbeta = Tensor::empty({BH * T}, f), dW0 = Tensor::empty({BH, d, d}, f);
  Tensor ws = Tensor::empty({kernels::delta_rule_workspace_size<float>(BH, d, d)}, f);
  auto P = [](Tensor& t) { return t.data<float>(); };

  // fused: one call each over all sequences (the kernels thread over them themselves)
  auto fused_fwd = [&] {
    kernels::delta_rule_forward_cpu<float>(P(y), P(W), P(saved), P(q), P(k), P(v), P(beta),
                                           nullptr, BH, T, d, d, P(ws));
  };
  auto fused_bwd = [&] {
    kernels::delta_rule_backward_cpu<float>(P(dq), P(dk), P(dv), P(dbeta), P(dW0), P(gy), P(gW),
                                            P(q), P(k), P(beta), P(saved), P(W), BH, T, d, d,
                                            P(ws));
  };
  // plain: the loops above, one sequence per iteration of an OpenMP loop
  Tensor A = Tensor::empty({BH, d, d}, f), Wb = Tensor::empty({BH, d, d}, f);
  Tensor scratch = Tensor::empty({BH, d}, f);
  auto plain_fwd = [&] {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t n = 0; n < BH; ++n) {
      const int64_t tk = n * T * d;
      plain_forward(P(y) + tk, P(W) + n * d * d, P(saved) + tk, P(q) + tk, P(k) + tk, P(v) + tk,
                    P(beta) + n * T, T, d);
    }
  };
  auto plain_bwd = [&] {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t n = 0; n < BH; ++n) {
      const int64_t tk = n * T * d, s = n * d * d;
      std::copy(P(W) + s, P(W) + s + d * d, P(Wb) + s);
      std::copy(P(gW) + s, P(gW) + s + d * d, P(A) + s);
      plain_backward(P(dq) + tk, P(dk) + tk, P(dv) + tk, P(dbeta) + n * T, P(Wb) + s, P(A) + s,
                     P(gy) + tk, P(q) + tk, P(k) + tk, P(beta) + n * T, P(saved) + tk, T, d,
                     P(scratch) + n * d);
    }
  };
  // plain and fused alternate, one untimed round first, so that a change in the machine's load
  // hits both alike; medians over the timed rounds, per token-head
  std::vector<double> fs[2], fbs[2];
  for (int r = 0; r <= reps; ++r)
    for (int which = 0; which < 2; ++which) {
      const double t0 = now_ns();
      which == 0 ? plain_fwd() : fused_fwd();
      const double t1 = now_ns();
      which == 0 ? plain_bwd() : fused_bwd();
      const double t2 = now_ns();
      if (r > 0) fs[which].push_back(t1 - t0), fbs[which].push_back(t2 - t0);
    }
  const double per = double(BH * T);
  const double pf = median(fs[0]) / per, pfb = median(fbs[0]) / per;
  const double ff = median(fs[1]) / per, ffb = median(fbs[1]) / per;
  const double flop_f = 6.0 * d * d, flop_fb = 20.0 * d * d;
  const double peak = kernels::fma_peak_gflops() * threads;  // GFLOP/s of `threads` cores
  std::printf("delta rule, f32, d=%lld T=%lld B*H=%lld, %d threads, median of %d (ns per token-head)\n"
              "%s; FMA peak of %d core(s) with these vectors %.1f GFLOP/s\n",
              (long long)d, (long long)T, (long long)BH, threads, reps,
              fwp::bench::simd_line().c_str(), threads, peak);
  std::printf("  plain loops: forward %8.1f ns (%6.1f GFLOP/s), forward+backward %8.1f ns (%6.1f GFLOP/s, %4.1f%% of peak)\n",
              pf, flop_f / pf, pfb, flop_fb / pfb, 100 * flop_fb / pfb / peak);
  std::printf("  fused:       forward %8.1f ns (%6.1f GFLOP/s), forward+backward %8.1f ns (%6.1f GFLOP/s, %4.1f%% of peak)\n",
              ff, flop_f / ff, ffb, flop_fb / ffb, 100 * flop_fb / ffb / peak);
  std::printf("  fused is %.2fx faster forward, %.2fx faster forward+backward\n", pf / ff, pfb / ffb);
  return 0;
  });
}
