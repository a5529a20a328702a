// bench_delta_chunk: the chunkwise delta-rule kernels (kernels/delta_chunk.h) against the
// sequential ones (kernels/delta_rule.h), f32, on buffers allocated once (no autograd; W0 = 0;
// random upstream gradients on y and W_T), in ns per token-head, forward and backward timed
// separately. Pairings: sequential fwd + bwd; chunkwise fwd + bwd (C); sequential fwd + chunkwise
// bwd (C, from the saved v - vbar). They take turns rep by rep, so a change of load hits them
// alike. Speed-ups use the minimum process CPU time with one thread (other jobs only add cache
// misses to it) and the minimum wall time with more (a preempted sibling thread inflates CPU
// time by spinning). GFLOP/s are effective: 6 Ddot Dv (forward), 20 Ddot Dv (fwd + bwd) per
// token-head. --gemm blas runs the chunkwise kernels on OpenBLAS called outside parallel regions.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>

#include "benchmarks/bench_util.h"
#include "core/error.h"
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
  std::vector<int64_t> dv = {0};  // 0: Dv = d
  std::vector<int64_t> T = {256, 1024, 4096};
  std::vector<int64_t> bh = {1, 8, 64};
  std::vector<int64_t> C = {16, 32, 64};
  std::vector<std::string> gemm = {"own"};
  int reps = 3;
  std::string csv;
};

struct Timing {
  std::vector<double> cpu, wall;  // ms per call, one per rep
  double min_cpu() const { return *std::min_element(cpu.begin(), cpu.end()); }
  double min_wall() const { return *std::min_element(wall.begin(), wall.end()); }
};

using bench::median;

// Times one call of f and appends its wall and CPU time to t.
void time_once(const std::function<void()>& f, Timing& t) {
  const bench::Timing one = bench::time_once(f);
  t.wall.push_back(one.wall_ms);
  t.cpu.push_back(one.cpu_ms);
}

// Inputs, upstream gradients and every output buffer of one (d, T, B*H) point.
struct Buffers {
  int64_t BH, T, d, e;  // e = Dv
  Tensor q, k, v, beta, gy, gWT, y, WT, saved, dq, dk, dv, dbeta, dW0, ws;
  Buffers(int64_t BH_, int64_t T_, int64_t d_, int64_t e_) : BH(BH_), T(T_), d(d_), e(e_) {
    Rng rng(1);
    q = bench::keys({BH * T, d}, rng, false, DType::f32);  // on the simplex
    k = bench::keys({BH * T, d}, rng, false, DType::f32);
    v = Tensor::randn({BH * T, e}, rng);
    beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9);
    gy = Tensor::randn({BH * T, e}, rng);
    gWT = Tensor::randn({BH, e, d}, rng);
    for (Tensor* t : {&y, &saved, &dv}) *t = Tensor::empty({BH * T, e});
    for (Tensor* t : {&dq, &dk}) *t = Tensor::empty({BH * T, d});
    WT = Tensor::empty({BH, e, d});
    dW0 = Tensor::empty({BH, e, d});
    dbeta = Tensor::empty({BH * T});
  }
  float* f(Tensor& t) { return t.data<float>(); }
  void seq_forward() {
    kn::delta_rule_forward_cpu<float>(f(y), f(WT), f(saved), f(q), f(k), f(v), f(beta), nullptr,
                                      BH, T, d, e, f(ws));
  }
  void seq_backward() {
    kn::delta_rule_backward_cpu<float>(f(dq), f(dk), f(dv), f(dbeta), f(dW0), f(gy), f(gWT), f(q),
                                       f(k), f(beta), f(saved), f(WT), BH, T, d, e, f(ws));
  }
  void chunk_forward(int64_t C, kn::ChunkGemm g) {
    kn::delta_chunk_forward_cpu<float>(f(y), f(WT), f(saved), f(q), f(k), f(v), f(beta), nullptr,
                                       BH, T, d, e, C, f(ws), g);
  }
  void chunk_backward(int64_t C, kn::Saved kind, kn::ChunkGemm g) {
    kn::delta_chunk_backward_cpu<float>(f(dq), f(dk), f(dv), f(dbeta), f(dW0), f(gy), f(gWT),
                                        f(q), f(k), f(v), f(beta), f(saved), kind, f(WT), BH, T,
                                        d, e, C, f(ws), g);
  }
};

// One algorithm of the table: its forward and backward (the backward reads what the forward
// saved), its workspace size and its timings.
struct Algorithm {
  std::string name;
  int64_t C;
  std::function<void()> fwd, bwd;
  int64_t ws;
  Timing f, b;
};

// The pairings of one point (nt threads, Ddot = d, Dv = e, T, B*H), timed in turns; prints their
// rows (and CSV lines).
void run_point(const Config& cfg, int nt, int64_t d, int64_t e, int64_t T, int64_t BH,
               std::ofstream& csv) {
  omp_set_num_threads(nt);
  Buffers b(BH, T, d, e);
  const double ns = 1e6 / double(BH * T);  // ms per call -> ns per token-head
  const int64_t seq_ws = kn::delta_rule_workspace_size<float>(BH, d, e);
  std::vector<Algorithm> algs;
  algs.push_back({"sequential", 0, [&] { b.seq_forward(); }, [&] { b.seq_backward(); }, seq_ws,
                  {}, {}});
  for (const std::string& g : cfg.gemm)
    for (int64_t C : cfg.C) {
      const auto kind = g == "own" ? kn::ChunkGemm::own : kn::ChunkGemm::blas;
      const int64_t ws = kn::delta_chunk_workspace_size<float>(BH, T, d, e, C, kind);
      algs.push_back({g == "own" ? "chunkwise" : "chunkwise (BLAS)", C,
                      [&b, C, kind] { b.chunk_forward(C, kind); },
                      [&b, C, kind] { b.chunk_backward(C, kn::Saved::u, kind); }, ws, {}, {}});
      if (g == "own")
        algs.push_back({"seq fwd + chunk bwd", C, [&] { b.seq_forward(); },
                        [&b, C, kind] { b.chunk_backward(C, kn::Saved::v_minus_vbar, kind); },
                        std::max(ws, seq_ws), {}, {}});
    }
  int64_t ws = 0;
  for (const Algorithm& a : algs) ws = std::max(ws, a.ws);
  b.ws = Tensor::empty({ws});
  for (int rep = 0; rep <= cfg.reps; ++rep)  // rep 0 warms up
    for (Algorithm& a : algs) {
      Timing f, w;
      time_once(a.fwd, f);
      time_once(a.bwd, w);
      if (rep == 0) continue;
      a.f.cpu.push_back(f.cpu[0]), a.f.wall.push_back(f.wall[0]);
      a.b.cpu.push_back(w.cpu[0]), a.b.wall.push_back(w.wall[0]);
    }
  for (Algorithm& a : algs)  // the mixed pairing's forward is the sequential one
    if (a.name == "seq fwd + chunk bwd") a.f = algs[0].f;
  const Algorithm& seq = algs[0];
  auto key = [&](const Timing& t) { return nt == 1 ? t.min_cpu() : t.min_wall(); };
  for (const Algorithm& a : algs) {
    const double sf = key(seq.f) / key(a.f), sb = key(seq.b) / key(a.b);
    const double st = (key(seq.f) + key(seq.b)) / (key(a.f) + key(a.b));
    const double fc = a.f.min_cpu() * ns, fcm = median(a.f.cpu) * ns;
    const double bc = a.b.min_cpu() * ns, bcm = median(a.b.cpu) * ns;
    const double fw = a.f.min_wall() * ns, fwm = median(a.f.wall) * ns;
    const double bw = a.b.min_wall() * ns, bwm = median(a.b.wall) * ns;
    std::printf("| %d | %ld | %ld | %ld | %ld | %s | %ld | %.1f (%.1f) | %.1f (%.1f) | %.1f | "
                "%.1f (%.1f) | %.1f (%.1f) | %.1f | %.1f | %.2f | %.2f | %.2f |\n",
                nt, long(d), long(e), long(T), long(BH), a.name.c_str(), long(a.C), fc, fcm, bc,
                bcm, fc + bc, fw, fwm, bw, bwm, 6.0 * d * e / (key(a.f) * ns),
                20.0 * d * e / ((key(a.f) + key(a.b)) * ns), sf, sb, st);
    if (csv.is_open())
      csv << nt << ',' << d << ',' << e << ',' << T << ',' << BH << ',' << a.name << ',' << a.C
          << ',' << fc << ',' << fcm << ',' << bc << ',' << bcm << ',' << fw << ',' << fwm << ','
          << bw << ',' << bwm << ',' << sf << ',' << sb << ',' << st << '\n';
  }
  std::fflush(stdout);
  if (csv.is_open()) csv.flush();
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"bench_delta_chunk: chunkwise vs sequential delta-rule kernels (f32)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--threads", cfg.threads, "OpenMP thread counts")->delimiter(',')->check(fwp::experiments::count_in(1, 1024));
  app.add_option("--d", cfg.d, "key widths Ddot")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--dv", cfg.dv, "value widths Dv (0: Dv = Ddot)")->delimiter(',')->check(fwp::experiments::count_in(0, fwp::experiments::kMaxSize));
  app.add_option("--T", cfg.T, "sequence lengths")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--bh", cfg.bh, "numbers of sequences B*H")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxSize));
  app.add_option("--C", cfg.C, "chunk sizes")->delimiter(',')->check(fwp::experiments::count_in(1, fwp::experiments::kMaxLength));
  app.add_option("--gemm", cfg.gemm, "own and/or blas")
      ->delimiter(',')
      ->check(CLI::IsMember({"own", "blas"}));
  app.add_option("--reps", cfg.reps, "timed runs per algorithm (after one warm-up)")->check(fwp::experiments::count_in(1, 1000000));
  app.add_option("--csv", cfg.csv, "also write the rows as CSV to this file");
  fwp::experiments::one_line_errors(app, "bench_delta_chunk");
  return fwp::experiments::guarded_main("bench_delta_chunk", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  std::ofstream csv;
  if (!cfg.csv.empty()) {
    csv.open(cfg.csv);
    FWP_CHECK(csv.good(), "--csv: cannot write '", cfg.csv, "'");
    csv << "threads,d,Dv,T,BH,algorithm,C,fwd_cpu_min,fwd_cpu_median,bwd_cpu_min,bwd_cpu_median,"
           "fwd_wall_min,fwd_wall_median,bwd_wall_min,bwd_wall_median,speedup_fwd,speedup_bwd,"
           "speedup_total\n";
  }
  auto list = [](const auto& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + std::string(x);
    return s;
  };
  auto nums = [&](const auto& v) {
    std::vector<std::string> s;
    for (auto x : v) s.push_back(std::to_string(x));
    return list(s);
  };
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("bench_delta_chunk: f32, threads %s, Ddot %s, Dv %s, T %s, B*H %s, C %s, gemm %s, "
              "reps %d, OPENBLAS_CORETYPE=%s; ns per token-head\n%s\n\n",
              nums(cfg.threads).c_str(), nums(cfg.d).c_str(), nums(cfg.dv).c_str(),
              nums(cfg.T).c_str(), nums(cfg.bh).c_str(), nums(cfg.C).c_str(),
              list(cfg.gemm).c_str(), cfg.reps, coretype ? coretype : "(unset)",
              bench::simd_line().c_str());
  std::printf("| threads | Ddot | Dv | T | B*H | algorithm | C | fwd CPU min (median) | bwd CPU min "
              "(median) | fwd+bwd CPU min | fwd wall min (median) | bwd wall min (median) | "
              "fwd GFLOP/s | fwd+bwd GFLOP/s | speed-up fwd | bwd | fwd+bwd |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int nt : cfg.threads)
    for (int64_t d : cfg.d)
      for (int64_t dv : cfg.dv)
        for (int64_t T : cfg.T)
          for (int64_t BH : cfg.bh) run_point(cfg, nt, d, dv > 0 ? dv : d, T, BH, csv);
  return 0;
  });
}
