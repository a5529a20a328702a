// bench_delta_chunk: the chunkwise delta-rule kernels (kernels/delta_chunk.h) against the
// sequential ones (kernels/delta_rule.h), f32, on buffers allocated once (no autograd, W0 = 0,
// random upstream gradients on y and W_T). For each threads x d (Ddot = Dv = d) x T x B*H it
// times the forward and the backward separately (one warm-up, then --reps runs) and prints one
// markdown row per algorithm, in ns per token-head:
//   sequential             sequential forward + sequential backward
//   chunkwise C            chunkwise forward + chunkwise backward (from the saved u)
//   seq fwd + chunk bwd C  sequential forward + chunkwise backward (from the saved v - vbar)
// CPU = median process CPU time (all threads), wall = median and minimum elapsed time; the
// speed-ups over the sequential kernels use CPU time with one thread (the measure other jobs on
// the machine disturb least) and the minimum wall time with more threads (spinning at barriers
// while a sibling thread is preempted inflates CPU time). GFLOP/s are effective, against the
// sequential op's count (6 d^2 forward, 14 d^2 backward per token-head). --gemm own,blas also
// runs the chunkwise kernels with every product through OpenBLAS outside parallel regions.
#include <omp.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>

#include "core/rng.h"
#include "core/tensor.h"
#include "kernels/delta_chunk.h"
#include "kernels/delta_rule.h"

using namespace fwp;
namespace kn = fwp::kernels;

namespace {

struct Config {
  std::vector<int> threads = {1};
  std::vector<int64_t> d = {16, 32, 64, 128};
  std::vector<int64_t> T = {256, 1024, 4096};
  std::vector<int64_t> bh = {1, 8, 64};
  std::vector<int64_t> C = {16, 32, 64};
  std::vector<std::string> gemm = {"own"};
  int reps = 3;
  std::string csv;
};

struct Timing {
  double cpu = 0, wall = 0, wall_min = 0;  // ms per call
};

double cpu_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
Timing time_it(const std::function<void()>& f, int reps) {
  f();  // warm-up
  std::vector<double> cpu, wall;
  for (int r = 0; r < reps; ++r) {
    const double c0 = cpu_now_ms();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(cpu_now_ms() - c0);
  }
  return {median(cpu), median(wall), *std::min_element(wall.begin(), wall.end())};
}

Tensor simplex(int64_t rows, int64_t D, Rng& rng) {
  Tensor x = Tensor::uniform({rows, D}, rng, 0.05, 1.0, DType::f32);
  float* p = x.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    float s = 0;
    for (int64_t j = 0; j < D; ++j) s += p[r * D + j];
    for (int64_t j = 0; j < D; ++j) p[r * D + j] /= s;
  }
  return x;
}

// Inputs, upstream gradients and every output buffer of one (d, T, B*H) point.
struct Buffers {
  int64_t BH, T, d;
  Tensor q, k, v, beta, gy, gWT, y, WT, saved, dq, dk, dv, dbeta, dW0, ws;
  Buffers(int64_t BH_, int64_t T_, int64_t d_) : BH(BH_), T(T_), d(d_) {
    Rng rng(1);
    q = simplex(BH * T, d, rng);
    k = simplex(BH * T, d, rng);
    v = Tensor::randn({BH * T, d}, rng);
    beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9);
    gy = Tensor::randn({BH * T, d}, rng);
    gWT = Tensor::randn({BH, d, d}, rng);
    for (Tensor* t : {&y, &saved, &dq, &dk, &dv}) *t = Tensor::empty({BH * T, d});
    WT = Tensor::empty({BH, d, d});
    dW0 = Tensor::empty({BH, d, d});
    dbeta = Tensor::empty({BH * T});
  }
  float* f(Tensor& t) { return t.data<float>(); }
  void seq_forward() {
    kn::delta_rule_forward_cpu<float>(f(y), f(WT), f(saved), f(q), f(k), f(v), f(beta), nullptr,
                                      BH, T, d, d, f(ws));
  }
  void seq_backward() {
    kn::delta_rule_backward_cpu<float>(f(dq), f(dk), f(dv), f(dbeta), f(dW0), f(gy), f(gWT), f(q),
                                       f(k), f(beta), f(saved), f(WT), BH, T, d, d, f(ws));
  }
  void chunk_forward(int64_t C, kn::ChunkGemm g) {
    kn::delta_chunk_forward_cpu<float>(f(y), f(WT), f(saved), f(q), f(k), f(v), f(beta), nullptr,
                                       BH, T, d, d, C, f(ws), g);
  }
  void chunk_backward(int64_t C, kn::Saved kind, kn::ChunkGemm g) {
    kn::delta_chunk_backward_cpu<float>(f(dq), f(dk), f(dv), f(dbeta), f(dW0), f(gy), f(gWT),
                                        f(q), f(k), f(v), f(beta), f(saved), kind, f(WT), BH, T,
                                        d, d, C, f(ws), g);
  }
};

struct Pair {
  Timing fwd, bwd;
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"bench_delta_chunk: chunkwise vs sequential delta-rule kernels (f32)"};
  app.add_option("--threads", cfg.threads, "OpenMP thread counts")->delimiter(',');
  app.add_option("--d", cfg.d, "head widths (Ddot = Dv = d)")->delimiter(',');
  app.add_option("--T", cfg.T, "sequence lengths")->delimiter(',');
  app.add_option("--bh", cfg.bh, "numbers of sequences B*H")->delimiter(',');
  app.add_option("--C", cfg.C, "chunk sizes")->delimiter(',');
  app.add_option("--gemm", cfg.gemm, "own and/or blas")
      ->delimiter(',')
      ->check(CLI::IsMember({"own", "blas"}));
  app.add_option("--reps", cfg.reps, "timed runs (median)")->check(CLI::PositiveNumber);
  app.add_option("--csv", cfg.csv, "also write the rows as CSV to this file");
  CLI11_PARSE(app, argc, argv);
  std::ofstream csv;
  if (!cfg.csv.empty()) {
    csv.open(cfg.csv);
    csv << "threads,d,T,BH,algorithm,C,fwd_cpu,bwd_cpu,fwd_wall,bwd_wall,fwd_wall_min,"
           "bwd_wall_min,speedup_fwd,speedup_bwd,speedup_total\n";
  }
  std::printf("bench_delta_chunk: f32, reps %d, ns per token-head\n\n", cfg.reps);
  std::printf("| threads | d | T | B*H | algorithm | C | fwd CPU | bwd CPU | fwd+bwd CPU | fwd wall "
              "(min) | bwd wall (min) | fwd+bwd GFLOP/s | speed-up fwd | bwd | fwd+bwd |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int nt : cfg.threads)
    for (int64_t d : cfg.d)
      for (int64_t T : cfg.T)
        for (int64_t BH : cfg.bh) {
          omp_set_num_threads(nt);
          Buffers b(BH, T, d);
          const double ns = 1e6 / double(BH * T);  // ms per call -> ns per token-head
          auto measure = [&](const std::function<void()>& fwd, const std::function<void()>& bwd) {
            Pair p;
            p.fwd = time_it(fwd, cfg.reps);
            fwd();  // the backward reads what this forward saved
            p.bwd = time_it(bwd, cfg.reps);
            return p;
          };
          b.ws = Tensor::empty({kn::delta_rule_workspace_size<float>(BH, d, d)});
          const Pair seq = measure([&] { b.seq_forward(); }, [&] { b.seq_backward(); });
          auto key = [&](const Timing& t) { return nt == 1 ? t.cpu : t.wall_min; };
          auto print = [&](const std::string& name, int64_t C, const Timing& f, const Timing& w) {
            const double sf = key(seq.fwd) / key(f), sb = key(seq.bwd) / key(w);
            const double st = (key(seq.fwd) + key(seq.bwd)) / (key(f) + key(w));
            const double tot = (nt == 1 ? f.cpu + w.cpu : f.wall_min + w.wall_min) * ns;
            std::printf("| %d | %ld | %ld | %ld | %s | %ld | %.1f | %.1f | %.1f | %.1f (%.1f) | "
                        "%.1f (%.1f) | %.1f | %.2f | %.2f | %.2f |\n",
                        nt, long(d), long(T), long(BH), name.c_str(), long(C), f.cpu * ns,
                        w.cpu * ns, (f.cpu + w.cpu) * ns, f.wall * ns, f.wall_min * ns,
                        w.wall * ns, w.wall_min * ns, 20.0 * d * d / tot, sf, sb, st);
            std::fflush(stdout);
            if (csv.is_open())
              csv << nt << ',' << d << ',' << T << ',' << BH << ',' << name << ',' << C << ','
                  << f.cpu * ns << ',' << w.cpu * ns << ',' << f.wall * ns << ',' << w.wall * ns
                  << ',' << f.wall_min * ns << ',' << w.wall_min * ns << ',' << sf << ',' << sb
                  << ',' << st << '\n' << std::flush;
          };
          print("sequential", 0, seq.fwd, seq.bwd);
          for (const std::string& g : cfg.gemm)
            for (int64_t C : cfg.C) {
              const auto kind = g == "own" ? kn::ChunkGemm::own : kn::ChunkGemm::blas;
              b.ws = Tensor::empty({std::max(kn::delta_rule_workspace_size<float>(BH, d, d),
                                             kn::delta_chunk_workspace_size<float>(BH, T, d, d, C, kind))});
              const Pair ch = measure([&] { b.chunk_forward(C, kind); },
                                      [&] { b.chunk_backward(C, kn::Saved::u, kind); });
              print(g == "own" ? "chunkwise" : "chunkwise (BLAS)", C, ch.fwd, ch.bwd);
              if (g != "own") continue;
              const Pair mix = measure([&] { b.seq_forward(); },
                                       [&] { b.chunk_backward(C, kn::Saved::v_minus_vbar, kind); });
              print("seq fwd + chunk bwd", C, seq.fwd, mix.bwd);
            }
        }
  return 0;
}
