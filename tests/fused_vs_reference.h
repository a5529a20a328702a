// Helpers for the tests that hold a fused fast-weight op against its composed reference
// (tests/autograd/test_fast_weight.cpp, test_gated_delta_rule.cpp, test_fwm_rule.cpp,
// test_delta_chunk.cpp): run an op on fresh leaves under random upstream gradients on EVERY
// output, then compare outputs and input gradients item by item, relative to each tensor's size;
// also the f32-against-f64 drift check and the bytes an op keeps for its backward.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "autograd/tape.h"
#include "autograd/variable.h"
#include "tests/catch.h"

namespace fwp_test {

// An op under test: inputs in, outputs out (as gradcheck_multi takes it).
using Fn = std::function<std::vector<fwp::Variable>(const std::vector<fwp::Variable>&)>;

// Runs f on fresh leaves (copies of inputs), backpropagates upstream gradients ~ N(0, 1) drawn
// from Rng(seed) into every output, and returns the outputs' values, then the inputs' gradients.
inline std::vector<fwp::Tensor> outputs_and_grads(const Fn& f,
                                                  const std::vector<fwp::Tensor>& inputs,
                                                  uint64_t seed) {
  std::vector<fwp::Variable> vars;
  for (const fwp::Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  std::vector<fwp::Variable> outs = f(vars);
  fwp::Rng rng(seed);
  std::vector<fwp::Tensor> grads;
  for (const fwp::Variable& o : outs)
    grads.push_back(fwp::Tensor::randn(o.shape(), rng, o.dtype()));
  fwp::backward(outs, grads);
  std::vector<fwp::Tensor> result;
  for (const fwp::Variable& o : outs) result.push_back(o.value());
  for (const fwp::Variable& v : vars) result.push_back(v.grad());
  return result;
}

// |a - b| <= tol * (max|b| + |b|) elementwise: a relative error scaled by the tensor's magnitude.
inline void check_close(const fwp::Tensor& a, const fwp::Tensor& b, double tol) {
  double scale = 0;
  for (double x : b.to_vector()) scale = std::max(scale, std::abs(x));
  CHECK_THAT(a, AllClose(b, tol * scale, tol));
}

// check_close on every item of two outputs_and_grads results; `items` names them in messages.
inline void check_all_close(const std::vector<fwp::Tensor>& a, const std::vector<fwp::Tensor>& b,
                            double tol,
                            const char* items = "outputs, then gradients of the inputs") {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(items << ": item " << i);
    check_close(a[i], b[i], tol);
  }
}

// f and reference run on the same inputs with the same upstream gradients (seed 99), compared.
inline void compare(const Fn& f, const Fn& reference, const std::vector<fwp::Tensor>& inputs,
                    double tol, const char* items = "outputs, then gradients of the inputs") {
  check_all_close(outputs_and_grads(f, inputs, 99), outputs_and_grads(reference, inputs, 99), tol,
                  items);
}

// f run in f32 and in f64 on the same inputs (given in f64) and upstream gradients (seed): every
// output and input gradient of the f32 run within tol of the f64 one (check_close).
inline void check_f32_close_to_f64(const Fn& f, const std::vector<fwp::Tensor>& inputs64,
                                   uint64_t seed, double tol, const char* items) {
  std::vector<fwp::Tensor> inputs32;
  for (const fwp::Tensor& t : inputs64) inputs32.push_back(t.to(fwp::DType::f32));
  std::vector<fwp::Tensor> a = outputs_and_grads(f, inputs32, seed);
  std::vector<fwp::Tensor> b = outputs_and_grads(f, inputs64, seed);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(items << ": item " << i);
    check_close(a[i].to(fwp::DType::f64), b[i], tol);
  }
}

// The bytes that f's outputs and saved tensors keep alive after its forward (leaves hold the
// inputs themselves, no copies); checks that dropping the outputs and the tape frees them all.
inline int64_t bytes_kept(const Fn& f, const std::vector<fwp::Tensor>& inputs) {
  std::vector<fwp::Variable> x;
  for (const fwp::Tensor& t : inputs) x.emplace_back(t, true);
  const int64_t before = fwp::memory_stats().current_bytes;
  std::vector<fwp::Variable> out = f(x);
  const int64_t kept = fwp::memory_stats().current_bytes - before;
  out.clear();
  fwp::active_tape().clear();  // frees the ops and their saved tensors
  CHECK(fwp::memory_stats().current_bytes == before);
  return kept;
}

}  // namespace fwp_test
