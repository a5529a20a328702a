// Elementwise ops on device tensors against the same ops on the CPU: every unary op forward and
// backward, the broadcasting binary ops, scalar ops and add_ (kernels/cuda/unary.cu,
// kernels/cuda/binary.cu through core/unary_ops.cpp and core/binary_ops.cpp).
#include "core/functional.h"
#include "tests/cuda/cuda_test.h"

using namespace fwp;
using fwp_test::check_close;

namespace {
Tensor gpu(const Tensor& t) { return t.to(Device::cuda); }
}  // namespace

TEST_CASE("cuda: unary ops and their backward match the CPU, f32 and f64", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(13);
  for (DType dt : {DType::f32, DType::f64}) {
    INFO("dtype " << dt);
    const double tol = dt == DType::f32 ? 2e-6 : 1e-13;
    Tensor x = Tensor::randn({5, 33}, rng, dt), g = Tensor::randn({5, 33}, rng, dt);
    Tensor pos = Tensor::uniform({5, 33}, rng, 0.1, 3.0, dt);
    check_close(exp(gpu(x)), exp(x), tol, "exp");
    check_close(log(gpu(pos)), log(pos), tol, "log");
    check_close(sqrt(gpu(pos)), sqrt(pos), tol, "sqrt");
    check_close(tanh(gpu(x)), tanh(x), tol, "tanh");
    check_close(sigmoid(gpu(x)), sigmoid(x), tol, "sigmoid");
    check_close(relu(gpu(x)), relu(x), 0.0, "relu");
    check_close(elu(gpu(x), 0.7), elu(x, 0.7), tol, "elu");
    check_close(square(gpu(x)), square(x), tol, "square");
    Tensor ey = exp(x), sy = sqrt(pos), ty = tanh(x), gy = sigmoid(x), ly = elu(x, 0.7);
    check_close(exp_backward(gpu(g), gpu(ey)), exp_backward(g, ey), tol, "exp'");
    check_close(log_backward(gpu(g), gpu(pos)), log_backward(g, pos), tol, "log'");
    check_close(sqrt_backward(gpu(g), gpu(sy)), sqrt_backward(g, sy), tol, "sqrt'");
    check_close(tanh_backward(gpu(g), gpu(ty)), tanh_backward(g, ty), tol, "tanh'");
    check_close(sigmoid_backward(gpu(g), gpu(gy)), sigmoid_backward(g, gy), tol, "sigmoid'");
    check_close(relu_backward(gpu(g), gpu(x)), relu_backward(g, x), 0.0, "relu'");
    check_close(elu_backward(gpu(g), gpu(x), gpu(ly), 0.7), elu_backward(g, x, ly, 0.7), tol,
                "elu'");
    check_close(square_backward(gpu(g), gpu(x)), square_backward(g, x), tol, "square'");
  }
}

TEST_CASE("cuda: broadcasting binary ops, scalar ops and add_ match the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(17);
  Tensor a = Tensor::randn({3, 1, 17}, rng), b = Tensor::randn({5, 1}, rng);
  Tensor c = Tensor::uniform({3, 5, 17}, rng, 0.5, 2.0);
  check_close(add(gpu(a), gpu(b)), add(a, b), 0.0, "add, broadcast");
  check_close(sub(gpu(b), gpu(a)), sub(b, a), 0.0, "sub, broadcast");
  check_close(mul(gpu(a), gpu(c)), mul(a, c), 0.0, "mul, broadcast");
  check_close(div(gpu(a), gpu(c)), div(a, c), 1e-7, "div, broadcast");
  check_close(add(gpu(c), 1.5), add(c, 1.5), 0.0, "add scalar");
  check_close(mul(gpu(c), -0.25), mul(c, -0.25), 0.0, "mul scalar");
  check_close(neg(gpu(c)), neg(c), 0.0, "neg");
  Tensor acc = c.clone(), acc_g = gpu(c);
  add_(acc, mul(c, 2.0), 0.5);
  add_(acc_g, gpu(mul(c, 2.0)), 0.5);
  check_close(acc_g, acc, 1e-7, "add_");
  Tensor d64 = Tensor::randn({1, 33}, rng, DType::f64), e64 = Tensor::randn({5, 1}, rng, DType::f64);
  check_close(mul(gpu(d64), gpu(e64)), mul(d64, e64), 0.0, "mul f64, broadcast both ways");
}
