// The chunkwise delta-rule kernels (kernels/delta_chunk.h): small_gemm against its naive twin;
// the naive chunkwise kernels against the naive sequential ones (same function, different
// algorithm); the fast chunkwise kernels (own micro-kernels and the BLAS variant, one and
// several column blocks) against the naive chunkwise ones, on short last chunks, chunk sizes
// that are not whole vectors, ragged widths, T = 0 and 1, with and without W0 and dL/dW_T.
#include "tests/catch.h"
#include "tests/simd_copies.h"

#include <omp.h>

#include "core/tensor.h"
#include "kernels/cpu/small_gemm.h"
#include "kernels/delta_chunk.h"
#include "kernels/delta_rule.h"
#include "tests/fast_weight_inputs.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::simplex;

namespace {

template <typename Real>
Real* p(Tensor& t) { return t.defined() ? t.data<Real>() : nullptr; }

template <typename Real>
void check_small_gemm(int64_t M, int64_t N, int64_t K, bool trans, kernels::Tri tri,
                      bool lower_out, bool accumulate, double tol) {
  const DType dt = dtype_of<Real>();
  Rng rng(M * 10000 + N * 100 + K);
  const int64_t rows = trans ? K : M, cols = trans ? M : K, lda = cols + 3, ldb = N + 16;
  Tensor A = Tensor::randn({rows, lda}, rng, dt), B = Tensor::randn({K, ldb}, rng, dt);
  Real* a = p<Real>(A);
  const int64_t a_rs = trans ? 1 : lda, a_cs = trans ? lda : 1;
  for (int64_t i = 0; i < M; ++i)  // store the zeros the structure hint promises
    for (int64_t s = 0; s < K; ++s)
      if ((tri == kernels::Tri::lower && s > i) || (tri == kernels::Tri::upper && s < i))
        a[i * a_rs + s * a_cs] = 0;
  Tensor out[2] = {Tensor::randn({M, N + 5}, rng, dt), Tensor()};
  out[1] = out[0].clone();
  const Real alpha = Real(-0.75);
  kernels::small_gemm<Real>(p<Real>(out[0]), N + 5, a, a_rs, a_cs, p<Real>(B), ldb, M, N, K,
                            alpha, accumulate, tri, lower_out);
  kernels::small_gemm_naive<Real>(p<Real>(out[1]), N + 5, a, a_rs, a_cs, p<Real>(B), ldb, M, N,
                                  K, alpha, accumulate);
  if (lower_out)  // only j <= i is promised
    for (int i = 0; i < 2; ++i) {
      Real* o = p<Real>(out[i]);
      for (int64_t r = 0; r < M; ++r)
        for (int64_t j = r + 1; j < N; ++j) o[r * (N + 5) + j] = 0;
    }
  INFO("M=" << M << " N=" << N << " K=" << K << " trans=" << trans << " tri=" << int(tri)
            << " lower_out=" << lower_out << " accumulate=" << accumulate);
  CHECK_THAT(out[0], AllClose(out[1], tol, tol));
}

struct Case {
  int64_t BH, T, Dk, Dv, C;
};
const std::vector<Case> kCases = {
    {2, 57, 16, 16, 16}, {1, 57, 48, 16, 32}, {3, 11, 5, 3, 4},   {1, 40, 32, 64, 16},
    {2, 9, 17, 33, 5},   {1, 1, 8, 8, 16},    {2, 0, 4, 4, 8},    {1, 70, 128, 40, 64},
    {2, 33, 24, 0, 8},   {1, 20, 7, 130, 20}, {2, 64, 16, 16, 64}};

struct Data {
  Tensor q, k, v, beta, W0, gy, gWT;
};
Data make_data(const Case& c, bool with_W0, bool with_gWT, DType dt) {
  const auto [BH, T, Dk, Dv, C] = c;
  Rng rng(5 + BH * 1000 + T * 100 + Dk * 10 + Dv + C);
  Data d;
  d.q = simplex({BH * T, Dk}, rng, dt).reshape({BH * T * Dk});  // on the simplex, flat
  d.k = simplex({BH * T, Dk}, rng, dt).reshape({BH * T * Dk});
  d.v = Tensor::randn({BH * T * Dv}, rng, dt);
  d.beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, dt);
  d.W0 = with_W0 ? Tensor::randn({BH * Dv * Dk}, rng, dt, 0.0, 0.5) : Tensor();
  d.gy = Tensor::randn({BH * T * Dv}, rng, dt);
  d.gWT = with_gWT ? Tensor::randn({BH * Dv * Dk}, rng, dt) : Tensor();
  return d;
}

// Outputs of a forward (y, WT, saved) and a backward (dq, dk, dv, dbeta, dW0).
struct Result {
  Tensor t[8];
};
Result empty_result(const Case& c, DType dt) {
  const auto [BH, T, Dk, Dv, C] = c;
  Result r;
  const int64_t sizes[8] = {BH * T * Dv, BH * Dv * Dk, BH * T * Dv, BH * T * Dk,
                            BH * T * Dk, BH * T * Dv,  BH * T,      BH * Dv * Dk};
  for (int i = 0; i < 8; ++i) r.t[i] = Tensor::empty({sizes[i]}, dt);
  return r;
}

// chunk_after_sequential: the fast sequential forward (saves v - vbar), then the fast chunkwise
// backward from what it saved.
enum class Algo { sequential_naive, chunk_naive, chunk_own, chunk_blas, chunk_after_sequential };

// Runs one algorithm; the sequential one saves v - vbar, turned into u = beta (v - vbar) here.
template <typename Real>
Result run(Algo algo, const Case& c, Data& d) {
  const auto [BH, T, Dk, Dv, C] = c;
  const DType dt = dtype_of<Real>();
  Result r = empty_result(c, dt);
  Real *y = p<Real>(r.t[0]), *WT = p<Real>(r.t[1]), *u = p<Real>(r.t[2]);
  Real *q = p<Real>(d.q), *k = p<Real>(d.k), *v = p<Real>(d.v), *b = p<Real>(d.beta);
  Real *W0 = p<Real>(d.W0), *gy = p<Real>(d.gy), *gWT = p<Real>(d.gWT);
  Real *dq = p<Real>(r.t[3]), *dk = p<Real>(r.t[4]), *dv = p<Real>(r.t[5]);
  Real *db = p<Real>(r.t[6]), *dW0 = p<Real>(r.t[7]);
  if (algo == Algo::sequential_naive) {
    kernels::delta_rule_forward_naive<Real>(y, WT, u, q, k, v, b, W0, BH, T, Dk, Dv);
    kernels::delta_rule_backward_naive<Real>(dq, dk, dv, db, dW0, gy, gWT, q, k, b, u, WT, BH,
                                             T, Dk, Dv);
    for (int64_t e = 0; e < BH * T * Dv; ++e) u[e] *= b[e / Dv];
  } else if (algo == Algo::chunk_naive) {
    kernels::delta_chunk_forward_naive<Real>(y, WT, u, q, k, v, b, W0, BH, T, Dk, Dv, C);
    kernels::delta_chunk_backward_naive<Real>(dq, dk, dv, db, dW0, gy, gWT, q, k, v, b, u,
                                              kernels::Saved::u, WT, BH, T, Dk, Dv, C);
  } else if (algo == Algo::chunk_after_sequential) {
    Tensor ws = Tensor::empty({std::max(kernels::delta_rule_workspace_size<Real>(BH, Dk, Dv),
                                        kernels::delta_chunk_workspace_size<Real>(BH, T, Dk, Dv, C))},
                              dt);
    kernels::delta_rule_forward_cpu<Real>(y, WT, u, q, k, v, b, W0, BH, T, Dk, Dv, p<Real>(ws));
    fwp_test::poison(ws);  // the forward's leftovers must not matter
    kernels::delta_chunk_backward_cpu<Real>(dq, dk, dv, db, dW0, gy, gWT, q, k, v, b, u,
                                            kernels::Saved::v_minus_vbar, WT, BH, T, Dk, Dv, C,
                                            p<Real>(ws));
    for (int64_t e = 0; e < BH * T * Dv; ++e) u[e] *= b[e / Dv];
  } else {
    const auto g = algo == Algo::chunk_own ? kernels::ChunkGemm::own : kernels::ChunkGemm::blas;
    Tensor ws = Tensor::empty({kernels::delta_chunk_workspace_size<Real>(BH, T, Dk, Dv, C, g)}, dt);
    kernels::delta_chunk_forward_cpu<Real>(y, WT, u, q, k, v, b, W0, BH, T, Dk, Dv, C,
                                           p<Real>(ws), g);
    fwp_test::poison(ws);  // the forward's leftovers must not matter
    kernels::delta_chunk_backward_cpu<Real>(dq, dk, dv, db, dW0, gy, gWT, q, k, v, b, u,
                                            kernels::Saved::u, WT, BH, T, Dk, Dv, C, p<Real>(ws),
                                            g);
  }
  return r;
}

const char* kNames[8] = {"y", "W_T", "u", "dq", "dk", "dv", "dbeta", "dW0"};

template <typename Real>
void compare(Algo a, Algo b, const Case& c, bool W0, bool gWT, double tol) {
  Data d = make_data(c, W0, gWT, dtype_of<Real>());
  Result x = run<Real>(a, c, d), y = run<Real>(b, c, d);
  INFO("BH=" << c.BH << " T=" << c.T << " Dk=" << c.Dk << " Dv=" << c.Dv << " C=" << c.C
             << " W0=" << W0 << " gWT=" << gWT << " algorithms " << int(a) << " vs " << int(b));
  for (int i = 0; i < 8; ++i) {
    INFO(kNames[i]);
    CHECK_THAT(x.t[i], AllClose(y.t[i], tol, tol));
  }
}

}  // namespace

TEST_CASE("small_gemm equals its naive twin", "[kernels][delta_chunk][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  using kernels::Tri;
  for (bool trans : {false, true})
    for (Tri tri : {Tri::none, Tri::lower, Tri::upper})
      for (bool lower_out : {false, true})
        for (bool acc : {false, true}) {
          check_small_gemm<double>(13, 16, 13, trans, tri, lower_out, acc, 1e-12);
          check_small_gemm<double>(64, 64, 64, trans, tri, lower_out, acc, 1e-12);
          check_small_gemm<float>(7, 80, 5, trans, tri, lower_out, acc, 1e-5);
          check_small_gemm<float>(64, 64, 64, trans, tri, lower_out, acc, 1e-4);
        }
  check_small_gemm<float>(5, 16, 0, false, Tri::none, false, true, 0);  // empty sum
  check_small_gemm<double>(0, 8, 3, false, Tri::none, false, false, 0);
}

TEST_CASE("naive chunkwise delta rule equals the naive sequential one", "[kernels][delta_chunk]") {
  for (const Case& c : kCases)
    for (bool W0 : {false, true}) {
      compare<double>(Algo::chunk_naive, Algo::sequential_naive, c, W0, !W0, 1e-11);
      compare<float>(Algo::chunk_naive, Algo::sequential_naive, c, W0, W0, 2e-4);
    }
}

TEST_CASE("chunkwise delta rule kernels equal their naive twins", "[kernels][delta_chunk][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  const int threads = omp_get_max_threads();
  for (int nt : {1, 2}) {  // with 2 threads, BH = 1 splits Dv into column blocks
    omp_set_num_threads(nt);
    for (const Case& c : kCases)
      for (bool W0 : {false, true})
        for (bool gWT : {false, true}) {
          compare<double>(Algo::chunk_own, Algo::chunk_naive, c, W0, gWT, 1e-12);
          compare<float>(Algo::chunk_own, Algo::chunk_naive, c, W0, gWT, 2e-5);
        }
    for (const Case& c : kCases) compare<double>(Algo::chunk_blas, Algo::chunk_naive, c, true, true, 1e-12);
  }
  omp_set_num_threads(threads);
}

TEST_CASE("chunkwise backward after the sequential forward equals the sequential op",
          "[kernels][delta_chunk][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases) {
    compare<double>(Algo::chunk_after_sequential, Algo::sequential_naive, c, true, true, 1e-11);
    compare<float>(Algo::chunk_after_sequential, Algo::sequential_naive, c, true, false, 2e-4);
  }
}
