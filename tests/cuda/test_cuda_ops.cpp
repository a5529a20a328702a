// The tensor-level ops a training step uses, on device tensors against the same ops on the CPU
// (core/ dispatching to kernels/cuda/ through core/device_dispatch.h): reductions, layout,
// softmax family and cross-entropy, layer norm, dropout, embedding, cumsum, masked_fill and the
// DPFP and FAVOR+ feature maps; values and backward results, f32, odd sizes (1, 3, 5, 17, 33).
#include <cmath>
#include <vector>

#include "core/functional.h"
#include "tests/cuda/cuda_test.h"

using namespace fwp;
using fwp_test::check_close;
using fwp_test::HasSubstr;

namespace {
Tensor gpu(const Tensor& t) { return t.to(Device::cuda); }
constexpr double kTol = 2e-6;  // f32, relative to the largest expected value
}  // namespace

TEST_CASE("cuda: sum, mean, sum_to and expand match the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(31);
  Tensor x = Tensor::randn({3, 5, 17}, rng), xg = gpu(x);
  check_close(sum(xg), sum(x), kTol, "sum of all");
  check_close(sum(xg, {2}), sum(x, {2}), kTol, "sum over the last dim (a row sum)");
  check_close(sum(xg, {0, 1}, true), sum(x, {0, 1}, true), kTol, "sum over leading dims");
  check_close(mean(xg, {1}), mean(x, {1}), kTol, "mean");
  check_close(sum_to(xg, {5, 1}), sum_to(x, {5, 1}), kTol, "sum_to");
  Tensor s = Tensor::randn({1, 5, 1}, rng);
  check_close(expand(gpu(s), {3, 5, 33}), expand(s, {3, 5, 33}), 0.0, "expand");
  Tensor one = Tensor::randn({1}, rng);
  check_close(sum(gpu(one)), sum(one), 0.0, "sum of one element");
}

TEST_CASE("cuda: permute, transpose, concat, slice, split and slice_add_ match the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(37);
  Tensor x = Tensor::randn({3, 1, 5, 17}, rng), xg = gpu(x);
  check_close(permute(xg, {2, 0, 3, 1}), permute(x, {2, 0, 3, 1}), 0.0, "permute");
  check_close(transpose(xg, 0, -1), transpose(x, 0, -1), 0.0, "transpose");
  Tensor y = Tensor::randn({3, 1, 3, 17}, rng);
  check_close(concat({xg, gpu(y)}, 2), concat({x, y}, 2), 0.0, "concat");
  check_close(slice(xg, 3, 1, 16), slice(x, 3, 1, 16), 0.0, "slice");
  std::vector<Tensor> a = split(xg, {1, 3, 1}, 2), b = split(x, {1, 3, 1}, 2);
  for (size_t i = 0; i < a.size(); ++i) check_close(a[i], b[i], 0.0, "split");
  Tensor acc = x.clone(), acc_g = gpu(x);
  Tensor part = Tensor::randn({3, 1, 5, 5}, rng);
  slice_add_(acc, part, 3, 7);
  slice_add_(acc_g, gpu(part), 3, 7);
  check_close(acc_g, acc, kTol, "slice_add_");
}

TEST_CASE("cuda: softmax and log_softmax forward and backward match the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(41);
  for (int64_t cols : {1, 3, 33, 70}) {
    INFO("cols " << cols);
    Tensor x = Tensor::randn({5, cols}, rng, DType::f32, 0.0, 3.0), g = Tensor::randn({5, cols}, rng);
    Tensor y = softmax(x), ly = log_softmax(x);
    check_close(softmax(gpu(x)), y, kTol, "softmax");
    check_close(log_softmax(gpu(x)), ly, kTol, "log_softmax");
    check_close(softmax_backward(gpu(g), gpu(y)), softmax_backward(g, y), kTol, "softmax'");
    check_close(log_softmax_backward(gpu(g), gpu(ly)), log_softmax_backward(g, ly), kTol,
                "log_softmax'");
  }
  // masked entries and a fully masked row (zeros / -inf by contract), and a dim other than the last
  Tensor m = Tensor::from_vector({1, -INFINITY, 2, -INFINITY, -INFINITY, -INFINITY}, {2, 3});
  check_close(softmax(gpu(m)), softmax(m), 0.0, "softmax with -inf");
  CHECK(log_softmax(gpu(m)).at({1, 0}) == -INFINITY);
  Tensor x = Tensor::randn({3, 17, 5}, rng);
  check_close(softmax(gpu(x), 1), softmax(x, 1), kTol, "softmax along dim 1");
}

TEST_CASE("cuda: cross_entropy and its backward match the CPU, with ignored rows", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(43);
  Tensor logits = Tensor::randn({3, 5, 17}, rng, DType::f32, 0.0, 2.0);
  std::vector<int64_t> t;
  for (int64_t i = 0; i < 15; ++i) t.push_back(i % 4 == 3 ? -100 : (i * 7) % 17);
  Indices targets({3, 5}, t);
  Tensor lse, lse_g;
  Tensor loss = cross_entropy(logits, targets, -100, &lse);
  Tensor loss_g = cross_entropy(gpu(logits), targets, -100, &lse_g);
  CHECK(loss_g.device() == Device::cuda);  // the mean stays on the device
  check_close(loss_g, loss, kTol, "loss");
  check_close(lse_g, lse, kTol, "lse");
  Tensor g = Tensor::full({}, 0.7);
  check_close(cross_entropy_backward(gpu(g), gpu(logits), lse_g, targets),
              cross_entropy_backward(g, logits, lse, targets), kTol, "dlogits");
  Indices all_ignored({2}, {-100, -100});
  Tensor two = Tensor::randn({2, 3}, rng);
  check_close(cross_entropy(gpu(two), all_ignored), cross_entropy(two, all_ignored), 0.0,
              "every row ignored");
}

TEST_CASE("cuda: layer_norm and its backward match the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(47);
  for (int64_t D : {1, 5, 33}) {
    INFO("D " << D);
    Tensor x = Tensor::randn({17, D}, rng, DType::f32, 0.5, 2.0), g = Tensor::randn({17, D}, rng);
    Tensor w = Tensor::randn({D}, rng), b = Tensor::randn({D}, rng);
    for (bool affine : {true, false}) {
      Tensor wc = affine ? w : Tensor(), bc = affine ? b : Tensor();
      Tensor m, s, mg, sg;
      Tensor y = layer_norm(x, wc, bc, 1e-5, &m, &s);
      Tensor yg = layer_norm(gpu(x), affine ? gpu(w) : Tensor(), affine ? gpu(b) : Tensor(), 1e-5,
                             &mg, &sg);
      check_close(yg, y, 1e-5, "layer_norm");
      check_close(mg, m, kTol, "mean");
      check_close(sg, s, 1e-5, "rstd");
      LayerNormGrads c = layer_norm_backward(g, x, wc, m, s, true, affine, affine);
      LayerNormGrads d = layer_norm_backward(gpu(g), gpu(x), affine ? gpu(w) : Tensor(), mg, sg,
                                             true, affine, affine);
      // D = 1: dx is 0 up to rounding, which rstd = 1/sqrt(eps) magnifies on either device
      check_close(d.dx, c.dx, D == 1 ? 1e-3 : 1e-5, "dx");
      if (affine) {
        check_close(d.dweight, c.dweight, 1e-5, "dweight");
        check_close(d.dbias, c.dbias, kTol, "dbias");
      }
    }
  }
}

TEST_CASE("cuda: dropout drops the same elements as on the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(53);
  Tensor x = Tensor::randn({5, 33}, rng);
  for (double p : {0.0, 0.3, 1.0})
    check_close(dropout(gpu(x), p, 1234), dropout(x, p, 1234), 0.0, "dropout");
}

TEST_CASE("cuda: embedding and its scatter-add backward match the CPU, repeated ids", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(59);
  Tensor w = Tensor::randn({17, 5}, rng);
  Indices ids({3, 5}, {0, 16, 3, 3, 7, 16, 16, 1, 0, 2, 9, 9, 9, 4, 3});
  check_close(embedding(gpu(w), ids), embedding(w, ids), 0.0, "embedding");
  Tensor g = Tensor::randn({3, 5, 5}, rng);
  check_close(embedding_backward(gpu(g), ids, 17), embedding_backward(g, ids, 17), 0.0,
              "embedding_backward (the same sums in the same order)");
  Tensor big = Tensor::randn({300, 1}, rng);  // more rows than the kernel's parts
  std::vector<int64_t> many;
  for (int64_t i = 0; i < 33; ++i) many.push_back((i * 37) % 300);
  Indices ids2({33}, many);
  Tensor g2 = Tensor::randn({33, 1}, rng);
  check_close(embedding_backward(gpu(g2), ids2, 300), embedding_backward(g2, ids2, 300), 0.0,
              "embedding_backward, V > parts");
}

TEST_CASE("cuda: cumsum, masked_fill, dpfp and favor_features match the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(61);
  Tensor x = Tensor::randn({3, 17, 5}, rng);
  for (int64_t d : {0, 1, 2}) {
    check_close(cumsum(gpu(x), d), cumsum(x, d), 0.0, "cumsum");
    check_close(cumsum_backward(gpu(x), d), cumsum_backward(x, d), 0.0, "cumsum_backward");
  }
  Tensor mask = Tensor::from_vector({1, 0, 0, 1, 0}, {1, 1, 5});
  check_close(masked_fill(gpu(x), gpu(mask), -1e4), masked_fill(x, mask, -1e4), 0.0,
              "masked_fill, broadcast mask");
  Tensor mask2 = Tensor::uniform({17, 1}, rng, 0.0, 1.0);
  check_close(masked_fill(gpu(x), gpu(mask2), 2.5), masked_fill(x, mask2, 2.5), 0.0,
              "masked_fill, another broadcast");
  Tensor xk = Tensor::randn({5, 3}, rng);
  for (int64_t nu : {1, 2, 5}) {
    INFO("nu " << nu);
    Tensor phi = dpfp(xk, nu);
    check_close(dpfp(gpu(xk), nu), phi, 0.0, "dpfp");
    Tensor g = Tensor::randn(phi.shape(), rng);
    check_close(dpfp_backward(gpu(g), gpu(xk), nu), dpfp_backward(g, xk, nu), kTol,
                "dpfp_backward");
  }
  Tensor xf = Tensor::randn({17, 3}, rng, DType::f32, 0.0, 0.5);
  Tensor omega = Tensor::randn({3, 5}, rng);
  Tensor u = matmul(xf, omega);
  Tensor phi = favor_features(u, xf, 1e-4);
  check_close(favor_features(gpu(u), gpu(xf), 1e-4), phi, 1e-6, "favor_features");
  Tensor gp = Tensor::randn(phi.shape(), rng);
  check_close(favor_features_backward(gpu(gp), gpu(phi), gpu(xf), gpu(omega), 1e-4),
              favor_features_backward(gp, phi, xf, omega, 1e-4), 1e-5, "favor_features_backward");
}

TEST_CASE("cuda: ops on tensors of two devices name both devices", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Tensor c = Tensor::ones({3, 3});
  Tensor g = Tensor::ones({3, 3}, DType::f32, Device::cuda);
  CHECK_THROWS_WITH(softmax_backward(c, g), HasSubstr("got grad_out=cpu and y=cuda"));
  CHECK_THROWS_WITH(concat({g, c}, 0), HasSubstr("devices must match"));
  CHECK_THROWS_WITH(layer_norm(g, Tensor::ones({3}), Tensor()), HasSubstr("x=cuda and weight=cpu"));
  CHECK_THROWS_WITH(masked_fill(g, c, 0.0), HasSubstr("a=cuda and mask=cpu"));
  CHECK_THROWS_WITH(slice_add_(c, g, 0, 0), HasSubstr("out=cpu and x=cuda"));
}
