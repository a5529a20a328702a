// Optimizer kernels. The fast versions hoist every per-step scalar out of the loop and run one
// fused, vectorised pass (threads for large arrays); the naive versions spell out the textbook
// formula in double precision, element by element.
#include "kernels/cpu/optim.h"

#include <cmath>

namespace fwp::kernels {

namespace {
constexpr int64_t kParallelMin = 32768;  // below this, threads cost more than they save
}

template <typename T>
void adam_update(T* param, T* m, T* v, const T* grad, int64_t n, const AdamStepParams& s) {
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_minus_b1 = static_cast<T>(1.0 - s.beta1), one_minus_b2 = static_cast<T>(1.0 - s.beta2);
  const T l2 = static_cast<T>(s.decoupled ? 0.0 : s.weight_decay);
  const T keep = static_cast<T>(s.decoupled ? 1.0 - s.lr * s.weight_decay : 1.0);
  const T step_size = static_cast<T>(s.lr / s.bias_correction1);
  const T sqrt_bc2 = static_cast<T>(std::sqrt(s.bias_correction2));
  const T eps = static_cast<T>(s.eps);
#pragma omp parallel for simd schedule(static) if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const T p = param[i] * keep;
    const T g = grad[i] + l2 * p;
    const T mi = b1 * m[i] + one_minus_b1 * g;
    const T vi = b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - step_size * mi / (std::sqrt(vi) / sqrt_bc2 + eps);
  }
}

template <typename T>
void adam_update_naive(T* param, T* m, T* v, const T* grad, int64_t n, const AdamStepParams& s) {
  for (int64_t i = 0; i < n; ++i) {
    double p = param[i];
    double g = grad[i];
    if (s.decoupled) {
      p -= s.lr * s.weight_decay * p;
    } else {
      g += s.weight_decay * p;
    }
    double mi = s.beta1 * m[i] + (1.0 - s.beta1) * g;
    double vi = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
    double m_hat = mi / s.bias_correction1;
    double v_hat = vi / s.bias_correction2;
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
    param[i] = static_cast<T>(p - s.lr * m_hat / (std::sqrt(v_hat) + s.eps));
  }
}

template <typename T>
void sgd_update(T* param, T* buf, const T* grad, int64_t n, double lr, double momentum,
                double weight_decay) {
  const T lr_t = static_cast<T>(lr), mu = static_cast<T>(momentum);
  const T wd = static_cast<T>(weight_decay);
  if (momentum == 0.0) {
#pragma omp parallel for simd schedule(static) if (parallel : n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) param[i] -= lr_t * (grad[i] + wd * param[i]);
    return;
  }
#pragma omp parallel for simd schedule(static) if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const T b = mu * buf[i] + (grad[i] + wd * param[i]);
    buf[i] = b;
    param[i] -= lr_t * b;
  }
}

template <typename T>
void sgd_update_naive(T* param, T* buf, const T* grad, int64_t n, double lr, double momentum,
                      double weight_decay) {
  for (int64_t i = 0; i < n; ++i) {
    double g = grad[i] + weight_decay * static_cast<double>(param[i]);
    if (momentum != 0.0) {
      double b = momentum * buf[i] + g;
      buf[i] = static_cast<T>(b);
      g = b;
    }
    param[i] = static_cast<T>(param[i] - lr * g);
  }
}

template <typename T>
double sum_squares(const T* x, int64_t n) {
  double acc = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * x[i];
  return acc;
}

template <typename T>
double sum_squares_naive(const T* x, int64_t n) {
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return acc;
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void adam_update<T>(T*, T*, T*, const T*, int64_t, const AdamStepParams&);       \
  template void adam_update_naive<T>(T*, T*, T*, const T*, int64_t, const AdamStepParams&); \
  template void sgd_update<T>(T*, T*, const T*, int64_t, double, double, double);           \
  template void sgd_update_naive<T>(T*, T*, const T*, int64_t, double, double, double);     \
  template double sum_squares<T>(const T*, int64_t);                                        \
  template double sum_squares_naive<T>(const T*, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
