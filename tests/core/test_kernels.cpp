// Every optimised CPU kernel against its naive reference, on awkward shapes.
#include "tests/catch.h"

#include "core/tensor.h"
#include "kernels/cpu/binary.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/layout.h"
#include "kernels/cpu/reduce.h"

using namespace fwp;
using fwp_test::AllClose;

TEST_CASE("binary kernel equals naive for broadcast patterns", "[kernels][binary]") {
  Rng rng(5);
  // (out shape, a strides, b strides) covering same-shape, row/column broadcast and scalars
  struct Case { Shape shape; std::vector<int64_t> sa, sb; };
  std::vector<Case> cases = {
      {{3, 5, 7}, {35, 7, 1}, {35, 7, 1}},  // same shape
      {{3, 5, 7}, {35, 7, 1}, {0, 0, 1}},   // bias over leading dims
      {{3, 5, 7}, {35, 7, 1}, {5, 1, 0}},   // per-row scalar
      {{3, 5, 7}, {0, 7, 1}, {5, 1, 0}},    // both broadcast
      {{1, 1, 1}, {0, 0, 0}, {0, 0, 0}},    // scalar
      {{300, 257}, {257, 1}, {0, 1}},       // big enough for threads
  };
  for (const auto& c : cases)
    for (auto op : {kernels::BinaryOp::add, kernels::BinaryOp::sub, kernels::BinaryOp::mul,
                    kernels::BinaryOp::div}) {
      Tensor a = Tensor::uniform({c.shape.numel()}, rng, 0.5, 2.0);
      Tensor b = Tensor::uniform({c.shape.numel()}, rng, 0.5, 2.0);
      Tensor fast = Tensor::empty(c.shape), naive = Tensor::empty(c.shape);
      int nd = static_cast<int>(c.shape.size());
      kernels::binary_forward<float>(fast.data<float>(), a.data<float>(), b.data<float>(), op,
                                     c.shape.data(), c.sa.data(), c.sb.data(), nd);
      kernels::binary_forward_naive<float>(naive.data<float>(), a.data<float>(), b.data<float>(),
                                           op, c.shape.data(), c.sa.data(), c.sb.data(), nd);
      CHECK_THAT(fast, AllClose(naive, 0, 0));
    }
}

TEST_CASE("sum_dim kernel equals naive", "[kernels][reduce]") {
  Rng rng(6);
  for (auto dims : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {3, 5, 1}, {1, 300, 257},
                                                        {7, 17, 3}, {2, 1000, 1}, {5, 3, 300}}) {
    auto [outer, n, inner] = dims;
    Tensor in = Tensor::randn({outer, n, inner}, rng, DType::f64);
    Tensor fast = Tensor::empty({outer, inner}, DType::f64), ref = Tensor::empty({outer, inner}, DType::f64);
    kernels::sum_dim<double>(fast.data<double>(), in.data<double>(), outer, n, inner);
    kernels::sum_dim_naive<double>(ref.data<double>(), in.data<double>(), outer, n, inner);
    CHECK_THAT(fast, AllClose(ref, 1e-12, 1e-12));
  }
}

TEST_CASE("permute kernel equals naive", "[kernels][layout]") {
  Rng rng(7);
  Shape s{3, 1, 5, 7};
  Tensor in = Tensor::randn(s, rng);
  std::vector<std::vector<int64_t>> perms = {{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 2, 1, 3}, {2, 0, 3, 1}};
  for (const auto& p : perms) {
    Tensor fast = Tensor::empty({s.numel()}), ref = Tensor::empty({s.numel()});
    kernels::permute<float>(fast.data<float>(), in.data<float>(), s.data(), p.data(), 4);
    kernels::permute_naive<float>(ref.data<float>(), in.data<float>(), s.data(), p.data(), 4);
    CHECK_THAT(fast, AllClose(ref, 0, 0));
  }
}

TEST_CASE("gemm equals naive gemm with alpha beta and strides", "[kernels][blas]") {
  Rng rng(8);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t M = 17, N = 13, K = 9, ld_pad = 3;
      const int64_t lda = (ta ? M : K) + ld_pad, ldb = (tb ? K : N) + ld_pad, ldc = N + ld_pad;
      Tensor A = Tensor::randn({(ta ? K : M) * lda}, rng);
      Tensor B = Tensor::randn({(tb ? N : K) * ldb}, rng);
      Tensor C0 = Tensor::randn({M * ldc}, rng);
      Tensor fast = C0.clone(), ref = C0.clone();
      kernels::gemm<float>(ta, tb, M, N, K, 0.5f, A.data<float>(), lda, B.data<float>(), ldb,
                           2.0f, fast.data<float>(), ldc);
      kernels::gemm_naive<float>(ta, tb, M, N, K, 0.5f, A.data<float>(), lda, B.data<float>(),
                                 ldb, 2.0f, ref.data<float>(), ldc);
      CHECK_THAT(fast, AllClose(ref, 1e-5, 1e-5));
    }
}
