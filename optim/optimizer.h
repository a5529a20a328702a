// Optimizers: SGD (momentum, L2 weight decay), Adam and AdamW, plus global gradient-norm clipping.
// An optimizer holds handles to the parameter Variables and, per parameter, its state tensors
// (Adam's moments m and v, SGD's momentum buffer). step() updates every parameter that has a
// gradient IN PLACE, under NoGradGuard, with one fused kernel per parameter (kernels/cpu/optim.h).
// Parameters without a gradient are skipped. Formulas and defaults follow PyTorch.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace fwp {

class Optimizer {
 public:
  Optimizer(std::vector<Variable> params, double lr);
  virtual ~Optimizer() = default;
  virtual const char* name() const = 0;  // "sgd", "adam", "adamw" (stored in checkpoints)

  void step();       // one update of every parameter that has a gradient; counts steps
  void zero_grad();  // forgets the gradients of all parameters

  double lr() const { return lr_; }
  void set_lr(double lr);  // e.g. from a schedule, before step()
  int64_t step_count() const { return step_count_; }
  const std::vector<Variable>& params() const { return params_; }

  // ---- state, for checkpoints (optim/checkpoint.h)
  // Kinds of per-parameter state ("m", "v", "momentum"); state(kind, i) belongs to params()[i].
  std::vector<std::string> state_kinds() const;
  Tensor& state(const std::string& kind, size_t i);
  const Tensor& state(const std::string& kind, size_t i) const;
  // Scalar hyper-parameters by name, including "lr".
  std::map<std::string, double> hyperparameters() const;
  void set_hyperparameter(const std::string& name, double value);
  void set_step_count(int64_t steps);

 protected:
  // Updates params_[i] from its gradient; step_count_ already counts this step (t >= 1).
  virtual void update(size_t i, Tensor& param, const Tensor& grad) = 0;
  // For subclass constructors: one zero tensor per parameter for a state kind, and a
  // hyper-parameter visible to checkpoints.
  void add_state(const std::string& kind);
  void add_hyperparameter(const std::string& name, double* value);

  std::vector<Variable> params_;
  double lr_;
  int64_t step_count_ = 0;

 private:
  std::vector<std::pair<std::string, std::vector<Tensor>>> state_;
  std::vector<std::pair<std::string, double*>> hypers_;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;  // L2: added to the gradient
};

// g = grad + wd p;  buf = mu buf + g;  p -= lr buf   (buf = g on the first step, as in PyTorch)
class SGD : public Optimizer {
 public:
  SGD(std::vector<Variable> params, SGDOptions options = {});
  const char* name() const override { return "sgd"; }

 protected:
  void update(size_t i, Tensor& param, const Tensor& grad) override;

 private:
  double momentum_, weight_decay_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: decoupled decay
};

// Adam (Kingma & Ba 2015) with bias correction at step t:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// with g = grad + wd p. The step count is shared by all parameters.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Variable> params, AdamOptions options = {});
  const char* name() const override { return decoupled_ ? "adamw" : "adam"; }

 protected:
  Adam(std::vector<Variable> params, AdamOptions options, bool decoupled);
  void update(size_t i, Tensor& param, const Tensor& grad) override;

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
};

// AdamW (Loshchilov & Hutter 2019): the decay acts on the parameter, not through the moments:
//   p = p (1 - lr wd), then the Adam step with g = grad. PyTorch's default wd is 0.01.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Variable> params, AdamOptions options = {.weight_decay = 0.01});
};

// Scales all gradients by max_norm / (norm + 1e-6) if their global L2 norm exceeds max_norm
// (PyTorch's clip_grad_norm_). Returns the norm BEFORE clipping. Params without grad are skipped.
double clip_grad_norm_(const std::vector<Variable>& params, double max_norm);

}  // namespace fwp
