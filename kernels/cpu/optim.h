// Fused optimizer updates: one pass over a parameter array reads the gradient, updates the
// optimizer state and writes the new parameter, in place. The formulas are PyTorch's (so runs
// can be compared step for step); each fast kernel has a plain textbook twin for the tests.
// param, state and grad are flat arrays of n elements; param and state are overwritten.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// Scalars of one Adam step. bias_correction1/2 = 1 - beta1^t, 1 - beta2^t at step t (t >= 1).
struct AdamStepParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: decay the parameter directly instead of adding wd * p to the gradient
  double bias_correction1, bias_correction2;
};

// Adam (decoupled == false):  g = grad + wd p
// AdamW (decoupled == true):  g = grad;  p = p (1 - lr wd)
// then  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//       p = p - lr (m / bc1) / (sqrt(v / bc2) + eps)
template <typename T>
void adam_update(T* param, T* m, T* v, const T* grad, int64_t n, const AdamStepParams& s);
template <typename T>
void adam_update_naive(T* param, T* m, T* v, const T* grad, int64_t n, const AdamStepParams& s);

// SGD with momentum mu and L2 weight decay wd (PyTorch's, without dampening or Nesterov):
//   g = grad + wd p;  buf = mu buf + g;  p = p - lr buf      (buf starts at 0, so buf_1 = g_1)
// With mu == 0, buf is not touched and may be null: p = p - lr g.
template <typename T>
void sgd_update(T* param, T* buf, const T* grad, int64_t n, double lr, double momentum,
                double weight_decay);
template <typename T>
void sgd_update_naive(T* param, T* buf, const T* grad, int64_t n, double lr, double momentum,
                      double weight_decay);

// sum_i x_i^2, accumulated in double (the building block of the global gradient norm).
template <typename T>
double sum_squares(const T* x, int64_t n);
template <typename T>
double sum_squares_naive(const T* x, int64_t n);

}  // namespace fwp::kernels
