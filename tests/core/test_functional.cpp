// Tensor-level math against values written out by hand or computed naively.
#include "tests/catch.h"

#include "core/functional.h"
#include "kernels/cpu/blas.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

TEST_CASE("binary ops broadcast like numpy", "[core][functional]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = Tensor::from_vector({10, 20, 30}, {3});
  Tensor col = Tensor::from_vector({100, 200}, {2, 1});
  CHECK(add(a, row).to_vector() == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(add(a, col).to_vector() == std::vector<double>{101, 102, 103, 204, 205, 206});
  CHECK(sub(a, row).to_vector() == std::vector<double>{-9, -18, -27, -6, -15, -24});
  CHECK(mul(col, row).shape() == Shape{2, 3});
  CHECK(mul(col, row).to_vector() == std::vector<double>{1000, 2000, 3000, 2000, 4000, 6000});
  CHECK(div(a, Tensor::scalar(2.0)).to_vector() == std::vector<double>{.5, 1, 1.5, 2, 2.5, 3});
  CHECK(add(a, 1.0).at({1, 2}) == 7.0);
  CHECK(mul(a, -2.0).at({0, 1}) == -4.0);
  CHECK(neg(a).at({1, 0}) == -4.0);
  CHECK_THROWS_WITH(add(a, Tensor::zeros({2})), HasSubstr("add") && HasSubstr("(2, 3)") &&
                                                    HasSubstr("(2)"));
  CHECK_THROWS_WITH(add(a, Tensor::zeros({2, 3}, DType::f64)), HasSubstr("dtypes must match"));
}

TEST_CASE("matmul matches the naive product in every layout", "[core][functional]") {
  Rng rng(1);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t B = 3, M = 5, K = 7, N = 4;
      Tensor a = Tensor::randn(ta ? Shape{B, K, M} : Shape{B, M, K}, rng, DType::f64);
      Tensor b = Tensor::randn(tb ? Shape{B, N, K} : Shape{B, K, N}, rng, DType::f64);
      Tensor c = matmul(a, b, ta, tb);
      REQUIRE(c.shape() == Shape{B, M, N});
      Tensor ref = Tensor::empty({B, M, N}, DType::f64);
      for (int64_t i = 0; i < B; ++i)
        kernels::gemm_naive<double>(ta, tb, M, N, K, 1.0, a.data<double>() + i * M * K,
                                    a.size(-1), b.data<double>() + i * K * N, b.size(-1), 0.0,
                                    ref.data<double>() + i * M * N, N);
      CHECK_THAT(c, AllClose(ref, 1e-12, 1e-12));
      // shared 2-D right operand
      Tensor w = Tensor::randn(tb ? Shape{N, K} : Shape{K, N}, rng, DType::f64);
      Tensor cw = matmul(a, w, ta, tb);
      for (int64_t i = 0; i < B; ++i) {
        Tensor ai = slice(a, 0, i, i + 1).reshape({a.size(1), a.size(2)});
        CHECK_THAT(slice(cw, 0, i, i + 1).reshape({M, N}),
                   AllClose(matmul(ai, w, ta, tb), 1e-12, 1e-12));
      }
    }
  CHECK_THROWS_WITH(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                    HasSubstr("matmul: inner dimensions must match, got a=(2, 3)") &&
                        HasSubstr("b=(4, 5)"));
}

TEST_CASE("permute and transpose move elements", "[core][functional]") {
  Tensor a = Tensor::arange(24).reshape({2, 3, 4});
  Tensor p = permute(a, {2, 0, 1});
  REQUIRE(p.shape() == Shape{4, 2, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == a.at({i, j, k}));
  Tensor t = transpose(a, 0, 1);
  CHECK(t.at({2, 1, 3}) == a.at({1, 2, 3}));
  CHECK_THROWS_WITH(permute(a, {0, 0, 1}), HasSubstr("twice"));
}

TEST_CASE("concat slice and split are inverse", "[core][functional]") {
  Rng rng(2);
  Tensor a = Tensor::randn({2, 3, 4}, rng), b = Tensor::randn({2, 5, 4}, rng);
  Tensor c = concat({a, b}, 1);
  REQUIRE(c.shape() == Shape{2, 8, 4});
  CHECK_THAT(slice(c, 1, 0, 3), AllClose(a, 0, 0));
  CHECK_THAT(slice(c, -2, 3, 8), AllClose(b, 0, 0));
  auto parts = split(c, {3, 5}, 1);
  CHECK_THAT(parts[1], AllClose(b, 0, 0));
  Tensor z = Tensor::zeros({2, 8, 4});
  slice_add_(z, b, 1, 3);
  slice_add_(z, b, 1, 3);
  CHECK_THAT(slice(z, 1, 3, 8), AllClose(mul(b, 2.0), 0, 0));
  CHECK(sum(slice(z, 1, 0, 3)).item() == 0.0);
  CHECK_THROWS_WITH(concat({a, Tensor::zeros({2, 3, 5})}, 1), HasSubstr("(2, 3, 5)"));
  CHECK_THROWS_WITH(slice(a, 1, 2, 4), HasSubstr("out of bounds"));
  CHECK_THROWS_WITH(split(a, {1, 1}, 1), HasSubstr("add up to 2"));
}

TEST_CASE("sum mean and sum_to reduce the right dims", "[core][functional]") {
  Tensor a = Tensor::arange(24, DType::f64).reshape({2, 3, 4});
  Tensor s1 = sum(a, {1});
  REQUIRE(s1.shape() == Shape{2, 4});
  CHECK(s1.at({1, 2}) == 14 + 18 + 22);
  Tensor s02 = sum(a, {0, -1}, true);
  REQUIRE(s02.shape() == Shape{1, 3, 1});
  CHECK(s02.at({0, 1, 0}) == (4 + 5 + 6 + 7) + (16 + 17 + 18 + 19));
  CHECK(sum(a).item() == 276.0);
  CHECK(mean(a, {0, 1, 2}).item() == 11.5);
  Tensor st = sum_to(a, {3, 1});
  REQUIRE(st.shape() == Shape{3, 1});
  CHECK(st.at({0, 0}) == (0 + 1 + 2 + 3) + (12 + 13 + 14 + 15));
  CHECK_THAT(expand(Tensor::from_vector({1, 2}, {2, 1}, DType::f64), {2, 3}),
             AllClose(Tensor::from_vector({1, 1, 1, 2, 2, 2}, {2, 3}, DType::f64), 0, 0));
  CHECK_THROWS_WITH(sum_to(a, {5}), HasSubstr("cannot reduce"));
}
