// Pointwise kernels: a switch picks the formula, then one flat loop the compiler vectorises
// (std::tanh, std::log and std::expm1 stay scalar calls; they are not on a hot path).
//   elu(x) = x for x > 0, alpha (e^x - 1) otherwise; elu'(x) = 1 for x > 0, out + alpha otherwise
//   relu'(0) is taken as 0, as in PyTorch.
#include "kernels/cpu/unary.h"

#include <cmath>

#include "kernels/cpu/fast_exp.h"

namespace fwp::kernels {

namespace {

// out[i] = f(i) for i in [0, n): one flat loop, threaded when there is enough work.
// The if clause names `parallel`: a bare if on "parallel for simd" also switches off the SIMD
// code below it. firstprivate(f): each thread's own copy of the closure. Shared, its captured
// pointers are re-read from memory on every iteration (a store to out might change them), and
// GCC 12 vectorises x[i] as a gather instead of one contiguous load (exp ran no faster than
// glibc's scalar expf that way).
template <typename T, typename F>
inline void fill_by_index(T* out, int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536) firstprivate(f)
  for (int64_t i = 0; i < n; ++i) out[i] = f(i);
}

}  // namespace

template <typename T>
void unary_forward(T* out, const T* x, UnaryOp op, T alpha, int64_t n) {
  switch (op) {
    case UnaryOp::exp: fill_by_index(out, n, [=](int64_t i) { return fast_exp(x[i]); }); break;
    case UnaryOp::log: fill_by_index(out, n, [=](int64_t i) { return std::log(x[i]); }); break;
    case UnaryOp::sqrt: fill_by_index(out, n, [=](int64_t i) { return std::sqrt(x[i]); }); break;
    case UnaryOp::tanh: fill_by_index(out, n, [=](int64_t i) { return std::tanh(x[i]); }); break;
    case UnaryOp::sigmoid:
      fill_by_index(out, n, [=](int64_t i) { return T(1) / (T(1) + fast_exp(-x[i])); });
      break;
    case UnaryOp::relu:
      fill_by_index(out, n, [=](int64_t i) { return x[i] > T(0) ? x[i] : T(0); });
      break;
    case UnaryOp::elu:
      fill_by_index(out, n, [=](int64_t i) { return x[i] > T(0) ? x[i] : alpha * std::expm1(x[i]); });
      break;
    case UnaryOp::square: fill_by_index(out, n, [=](int64_t i) { return x[i] * x[i]; }); break;
  }
}

template <typename T>
void unary_backward(T* dinp, const T* g, const T* x, const T* y, UnaryOp op, T alpha, int64_t n) {
  switch (op) {
    case UnaryOp::exp: fill_by_index(dinp, n, [=](int64_t i) { return g[i] * y[i]; }); break;
    case UnaryOp::log: fill_by_index(dinp, n, [=](int64_t i) { return g[i] / x[i]; }); break;
    case UnaryOp::sqrt:
      fill_by_index(dinp, n, [=](int64_t i) { return g[i] * T(0.5) / y[i]; });
      break;
    case UnaryOp::tanh:
      fill_by_index(dinp, n, [=](int64_t i) { return g[i] * (T(1) - y[i] * y[i]); });
      break;
    case UnaryOp::sigmoid:
      fill_by_index(dinp, n, [=](int64_t i) { return g[i] * y[i] * (T(1) - y[i]); });
      break;
    case UnaryOp::relu:
      fill_by_index(dinp, n, [=](int64_t i) { return x[i] > T(0) ? g[i] : T(0); });
      break;
    case UnaryOp::elu:
      fill_by_index(dinp, n, [=](int64_t i) { return x[i] > T(0) ? g[i] : g[i] * (y[i] + alpha); });
      break;
    case UnaryOp::square:
      fill_by_index(dinp, n, [=](int64_t i) { return g[i] * T(2) * x[i]; });
      break;
  }
}

template <typename T>
void unary_forward_naive(T* out, const T* inp, UnaryOp op, T alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T x = inp[i];
    switch (op) {
      case UnaryOp::exp: out[i] = std::exp(x); break;
      case UnaryOp::log: out[i] = std::log(x); break;
      case UnaryOp::sqrt: out[i] = std::sqrt(x); break;
      case UnaryOp::tanh: out[i] = std::tanh(x); break;
      case UnaryOp::sigmoid: out[i] = T(1) / (T(1) + std::exp(-x)); break;
      case UnaryOp::relu: out[i] = x > T(0) ? x : T(0); break;
      case UnaryOp::elu: out[i] = x > T(0) ? x : alpha * std::expm1(x); break;
      case UnaryOp::square: out[i] = x * x; break;
    }
  }
}

template <typename T>
void unary_backward_naive(T* dinp, const T* dout, const T* inp, const T* out, UnaryOp op, T alpha,
                          int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = dout[i];
    switch (op) {
      case UnaryOp::exp: dinp[i] = g * out[i]; break;
      case UnaryOp::log: dinp[i] = g / inp[i]; break;
      case UnaryOp::sqrt: dinp[i] = g / (T(2) * out[i]); break;
      case UnaryOp::tanh: dinp[i] = g * (T(1) - out[i] * out[i]); break;
      case UnaryOp::sigmoid: dinp[i] = g * out[i] * (T(1) - out[i]); break;
      case UnaryOp::relu: dinp[i] = inp[i] > T(0) ? g : T(0); break;
      case UnaryOp::elu: dinp[i] = inp[i] > T(0) ? g : g * alpha * std::exp(inp[i]); break;
      case UnaryOp::square: dinp[i] = T(2) * inp[i] * g; break;
    }
  }
}

#define FWP_INSTANTIATE(T)                                                                  \
  template void unary_forward<T>(T*, const T*, UnaryOp, T, int64_t);                       \
  template void unary_backward<T>(T*, const T*, const T*, const T*, UnaryOp, T, int64_t);  \
  template void unary_forward_naive<T>(T*, const T*, UnaryOp, T, int64_t);                 \
  template void unary_backward_naive<T>(T*, const T*, const T*, const T*, UnaryOp, T, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
