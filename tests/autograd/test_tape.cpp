// The tape's edge cases: reused nodes, diamonds, accumulation, no-grad scopes, long chains,
// and errors for misuse.
#include "tests/catch.h"

#include "autograd/functions.h"

using namespace fwp;
using fwp_test::HasSubstr;

namespace {
Variable leaf(double v) { return Variable(Tensor::scalar(v, DType::f64), true); }
}  // namespace

TEST_CASE("tape reused node: b = a + a, c = b + b gives dc/da = 4", "[autograd][tape]") {
  Variable a = leaf(3.0);
  Variable b = a + a;
  Variable c = b + b;
  backward(c);
  CHECK(a.grad().item() == 4.0);
  CHECK(c.item() == 12.0);
}

TEST_CASE("tape diamond graph sums both paths", "[autograd][tape]") {
  // d = (a * 2) * (a + 1):  dd/da = 2(a + 1) + 2a = 4a + 2
  Variable a = leaf(1.5);
  Variable left = a * 2.0;
  Variable right = a + 1.0;
  Variable d = left * right;
  backward(d);
  CHECK(a.grad().item() == 4 * 1.5 + 2);
}

TEST_CASE("tape two backward calls accumulate until zero_grad", "[autograd][tape]") {
  Variable a = leaf(2.0), b = leaf(5.0);
  backward(a * b);
  backward(a * b);  // a fresh forward: gradients add up
  CHECK(a.grad().item() == 10.0);
  CHECK(b.grad().item() == 4.0);
  Variable y = a * b;
  backward(y, /*retain_graph=*/true);
  backward(y);  // the same graph twice
  CHECK(a.grad().item() == 20.0);
  a.zero_grad();
  CHECK_FALSE(a.has_grad());
  backward(a * b);
  CHECK(a.grad().item() == 5.0);
}

TEST_CASE("tape records nothing under NoGradGuard", "[autograd][tape]") {
  active_tape().clear();
  Variable a = leaf(2.0);
  Variable y;
  {
    NoGradGuard guard;
    y = a * a + a;
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK(active_tape().size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.item() == 6.0);
  CHECK_THROWS_WITH(backward(y), HasSubstr("does not require grad"));
}

TEST_CASE("tape skips gradients of inputs that do not require them", "[autograd][tape]") {
  Variable a = leaf(2.0);
  Variable k(Tensor::scalar(3.0, DType::f64), false);
  backward(a * k);
  CHECK(a.grad().item() == 3.0);
  CHECK_FALSE(k.has_grad());
  Variable d = a.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.value().shares_storage_with(a.value()));
}

TEST_CASE("tape 100000-op chain backprops and frees without recursion", "[autograd][tape]") {
  Variable a = leaf(1.0);
  Variable x = a;
  for (int i = 0; i < 100000; ++i) x = x * 1.0 + 0.0;  // 200,000 entries
  CHECK(active_tape().size() == 200000);
  backward(x);
  CHECK(a.grad().item() == 1.0);
  CHECK(active_tape().size() == 0);
  // and a long chain that is simply dropped without backward
  Variable y = a;
  for (int i = 0; i < 100000; ++i) y = y + 1.0;
  y = Variable();
  active_tape().clear();
  CHECK(active_tape().size() == 0);
}

TEST_CASE("tape rejects a consumed or non-scalar root", "[autograd][tape][errors]") {
  Variable a(Tensor::ones({2}, DType::f64), true);
  Variable h = a * 3.0;
  Variable y = sum(h);
  backward(y);
  CHECK_THROWS_WITH(backward(y), HasSubstr("not on this thread's tape"));
  Variable z = sum(h * 2.0);  // builds on h, whose graph the first backward freed
  CHECK_THROWS_WITH(backward(z), HasSubstr("already freed"));
  Variable v = a * 2.0;
  CHECK_THROWS_WITH(backward(v), HasSubstr("one element") && HasSubstr("(2)"));
  active_tape().clear();
}

TEST_CASE("tape keeps independent graphs and frees unreachable ones", "[autograd][tape]") {
  active_tape().clear();
  Variable a(Tensor::full({2}, 2.0, DType::f64), true);
  Variable y = sum(a * 3.0);
  Variable z = sum(a * a);
  { Variable unused = exp(a) + 1.0; }  // recorded, then nobody can reach it
  backward(y);
  CHECK(a.grad().to_vector() == std::vector<double>{3, 3});
  backward(z);  // z's graph was independent of y's: still on the tape
  CHECK(a.grad().to_vector() == std::vector<double>{7, 7});
  CHECK(active_tape().size() == 0);  // the unreachable exp(a) + 1 entries were dropped too
}

TEST_CASE("tape drops forward passes whose results were thrown away", "[autograd][tape]") {
  active_tape().clear();
  Variable w(Tensor::ones({3}, DType::f64), true);
  for (int i = 0; i < 20000; ++i) Variable y = sum(w * 2.0);  // 2 entries each, result dropped
  CHECK(active_tape().size() < 9000);  // swept as it grew, instead of 40,000 entries
  Variable kept = sum(w * 3.0);
  for (int i = 0; i < 20000; ++i) Variable y = sum(w * 2.0);
  backward(kept);  // a live result survives every sweep
  CHECK(w.grad().to_vector() == std::vector<double>{3, 3, 3});
}

TEST_CASE("tape multi-output op gets zeros for unused outputs", "[autograd][tape]") {
  Variable a(Tensor::arange(6, DType::f64).reshape({2, 3}), true);
  auto parts = split(a, {1, 2}, 1);
  backward(sum(parts[1] * 2.0));
  CHECK(a.grad().to_vector() == std::vector<double>{0, 2, 2, 0, 2, 2});
}

TEST_CASE("tape reports each leaf once, as soon as its gradient is complete",
          "[autograd][tape][distributed]") {
  // y = (a * b) * a + c * 3: a is used twice (its last use in the walk is its earliest op), c once;
  // d is used by no op on the way to y and is not reported
  Variable a = leaf(2.0), b = leaf(5.0), c = leaf(7.0), d = leaf(1.0);
  Variable ab = a * b;
  Variable y = ab * a + c * 3.0;
  Variable unused = d * 2.0;
  std::vector<std::pair<const VariableImpl*, double>> reported;
  backward(y, [&](const VariableImpl& leaf) { reported.push_back({&leaf, leaf.grad.item()}); });
  REQUIRE(reported.size() == 3);
  for (const auto& [impl, grad_then] : reported) {
    INFO("a leaf reported with gradient " << grad_then);
    CHECK((impl == a.impl().get() || impl == b.impl().get() || impl == c.impl().get()));
    CHECK(grad_then == impl->grad.item());  // nothing was added after the report
  }
  CHECK(a.grad().item() == 2 * 2.0 * 5.0);  // d(a^2 b)/da
  CHECK(b.grad().item() == 4.0);
  CHECK(c.grad().item() == 3.0);
  CHECK_FALSE(d.has_grad());
  (void)unused;
}
