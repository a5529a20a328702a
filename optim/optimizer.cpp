// Optimizer bookkeeping (state, hyper-parameters, the step loop) and the three update rules.
// The arithmetic lives in kernels/cpu/optim.cpp (kernels/cuda/optim.cu for parameters on the
// GPU); this file validates and dispatches. A step on the GPU stays there: the update kernels
// read the gradients in place, and clipping reads the global norm from device memory.
#include "optim/optimizer.h"

#include <cmath>

#include "autograd/tape.h"
#include "core/device_dispatch.h"
#include "kernels/cpu/binary.h"
#include "kernels/cpu/optim.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace fwp {

// ---------------------------------------------------------------- Optimizer

Optimizer::Optimizer(std::vector<Variable> params, double lr) : params_(std::move(params)), lr_(lr) {
  for (size_t i = 0; i < params_.size(); ++i) {
    FWP_CHECK(params_[i].defined(), "Optimizer: parameter ", i, " is undefined");
    FWP_CHECK(params_[i].is_leaf(), "Optimizer: parameter ", i, " ('", params_[i].name(),
              "') is not a leaf; optimizers update leaves (parameters) only");
    for (size_t j = 0; j < i; ++j)
      FWP_CHECK(params_[i].impl() != params_[j].impl(), "Optimizer: parameter ", i,
                " is the same variable as parameter ", j);
  }
  set_lr(lr);
  add_hyperparameter("lr", &lr_);
}

void Optimizer::set_lr(double lr) {
  FWP_CHECK(std::isfinite(lr) && lr >= 0.0, "Optimizer: lr must be finite and >= 0, got ", lr);
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++step_count_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.has_grad()) continue;
    const Tensor& g = p.grad();
    FWP_CHECK_SHAPE(g.shape() == p.shape() && g.dtype() == p.dtype(), name(),
                    ": gradient of parameter ", i, " ('", p.name(), "') has shape ", g.shape(),
                    " ", g.dtype(), ", expected ", p.shape(), " ", p.dtype());
    FWP_CHECK(g.device() == p.value().device(), name(), ": gradient of parameter ", i, " ('",
              p.name(), "') is on ", g.device(), " but the parameter is on ", p.value().device());
    // The state follows its parameter (a model moved after the optimizer was built, or state
    // loaded from a checkpoint on the host): moved once, then updated in place there.
    for (auto& [kind, tensors] : state_)
      if (tensors[i].device() != p.value().device()) tensors[i] = tensors[i].to(p.value().device());
    update(i, p.mutable_value(), g);
  }
}

void Optimizer::zero_grad() {
  for (Variable& p : params_) p.zero_grad();
}

void Optimizer::add_state(const std::string& kind) {
  std::vector<Tensor> tensors;
  for (const Variable& p : params_)
    tensors.push_back(Tensor::zeros(p.shape(), p.dtype(), p.value().device()));
  state_.emplace_back(kind, std::move(tensors));
}

void Optimizer::add_hyperparameter(const std::string& name, double* value) {
  hypers_.emplace_back(name, value);
}

std::vector<std::string> Optimizer::state_kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, tensors] : state_) kinds.push_back(kind);
  return kinds;
}

Tensor& Optimizer::state(const std::string& kind, size_t i) {
  return const_cast<Tensor&>(static_cast<const Optimizer&>(*this).state(kind, i));
}

const Tensor& Optimizer::state(const std::string& kind, size_t i) const {
  FWP_CHECK(i < params_.size(), name(), ": state index ", i, " out of range for ",
            params_.size(), " parameters");
  for (const auto& [k, tensors] : state_)
    if (k == kind) return tensors[i];
  throw Error(cat(name(), ": no state named '", kind, "'"));
}

std::map<std::string, double> Optimizer::hyperparameters() const {
  std::map<std::string, double> out;
  for (const auto& [n, v] : hypers_) out[n] = *v;
  return out;
}

void Optimizer::set_hyperparameter(const std::string& hyper, double value) {
  for (auto& [n, v] : hypers_)
    if (n == hyper) {
      FWP_CHECK(std::isfinite(value), name(), ": hyper-parameter '", hyper,
                "' must be finite, got ", value);
      *v = value;
      return;
    }
  throw Error(cat(name(), ": no hyper-parameter named '", hyper, "'"));
}

void Optimizer::set_step_count(int64_t steps) {
  FWP_CHECK(steps >= 0, name(), ": step count must be >= 0, got ", steps);
  step_count_ = steps;
}

// ---------------------------------------------------------------- SGD

SGD::SGD(std::vector<Variable> params, SGDOptions o)
    : Optimizer(std::move(params), o.lr), momentum_(o.momentum), weight_decay_(o.weight_decay) {
  FWP_CHECK(o.momentum >= 0.0 && o.weight_decay >= 0.0,
            "SGD: momentum and weight_decay must be >= 0, got momentum=", o.momentum,
            " weight_decay=", o.weight_decay);
  add_hyperparameter("momentum", &momentum_);
  add_hyperparameter("weight_decay", &weight_decay_);
  if (momentum_ != 0.0) add_state("momentum");
}

void SGD::update(size_t i, Tensor& param, const Tensor& grad) {
  dispatch_dtype(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* buf = momentum_ != 0.0 ? state("momentum", i).data<T>() : nullptr;
    FWP_KERNEL(param.device(), sgd_update, T)(param.data<T>(), buf, grad.data<T>(), param.numel(),
                                              lr_, momentum_, weight_decay_);
  });
}

// ---------------------------------------------------------------- Adam, AdamW

Adam::Adam(std::vector<Variable> params, AdamOptions o) : Adam(std::move(params), o, false) {}

Adam::Adam(std::vector<Variable> params, AdamOptions o, bool decoupled)
    : Optimizer(std::move(params), o.lr),
      beta1_(o.beta1), beta2_(o.beta2), eps_(o.eps), weight_decay_(o.weight_decay),
      decoupled_(decoupled) {
  FWP_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0, name(),
            ": betas must lie in [0, 1), got beta1=", o.beta1, " beta2=", o.beta2);
  FWP_CHECK(o.eps >= 0.0 && o.weight_decay >= 0.0, name(),
            ": eps and weight_decay must be >= 0, got eps=", o.eps, " weight_decay=", o.weight_decay);
  add_hyperparameter("beta1", &beta1_);
  add_hyperparameter("beta2", &beta2_);
  add_hyperparameter("eps", &eps_);
  add_hyperparameter("weight_decay", &weight_decay_);
  add_state("m");
  add_state("v");
}

void Adam::update(size_t i, Tensor& param, const Tensor& grad) {
  const double t = static_cast<double>(step_count_);
  kernels::AdamStepParams s{lr_, beta1_, beta2_, eps_, weight_decay_, decoupled_,
                            1.0 - std::pow(beta1_, t), 1.0 - std::pow(beta2_, t)};
  dispatch_dtype(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(param.device(), adam_update, T)(param.data<T>(), state("m", i).data<T>(),
                                               state("v", i).data<T>(), grad.data<T>(),
                                               param.numel(), s);
  });
}

AdamW::AdamW(std::vector<Variable> params, AdamOptions options)
    : Adam(std::move(params), options, true) {}

// ---------------------------------------------------------------- clipping

namespace {

#ifdef FWP_WITH_CUDA
// The GPU version of clip_grad_norm_: the squares add up in one double in device memory, the
// scaling kernels read it there, and only the norm itself (for the log) comes back.
double clip_grad_norm_cuda(const std::vector<Variable>& params, double max_norm) {
  Tensor total = Tensor::zeros({1}, DType::f64, Device::cuda);
  for (const Variable& p : params) {
    if (!p.has_grad()) continue;
    dispatch_dtype(p.grad().dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::sum_squares_cuda<T>(total.data<double>(), p.grad().data<T>(), p.grad().numel());
    });
  }
  for (const Variable& p : params) {
    if (!p.has_grad()) continue;
    Tensor g = p.grad();  // a handle: scaling it scales the gradient in place
    dispatch_dtype(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::scale_by_norm_cuda<T>(g.data<T>(), g.numel(), total.data<double>(), max_norm);
    });
  }
  return std::sqrt(total.item());
}
#endif

}  // namespace

double clip_grad_norm_(const std::vector<Variable>& params, double max_norm) {
  FWP_CHECK(max_norm > 0.0, "clip_grad_norm_: max_norm must be > 0, got ", max_norm);
  // every gradient on one device, the one the clipping runs on
  const Variable* first = nullptr;
  for (const Variable& p : params) {
    if (!p.has_grad()) continue;
    if (!first) first = &p;
    FWP_CHECK(p.grad().device() == first->grad().device(), "clip_grad_norm_: the gradient of '",
              p.name(), "' is on ", p.grad().device(), " but that of '", first->name(),
              "' is on ", first->grad().device());
  }
#ifdef FWP_WITH_CUDA
  if (first && first->grad().device() == Device::cuda) return clip_grad_norm_cuda(params, max_norm);
#endif
  double total = 0.0;
  for (const Variable& p : params) {
    if (!p.has_grad()) continue;
    dispatch_dtype(p.grad().dtype(), [&](auto tag) {
      using T = decltype(tag);
      total += kernels::sum_squares<T>(p.grad().data<T>(), p.grad().numel());
    });
  }
  const double norm = std::sqrt(total);
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return norm;
  for (const Variable& p : params) {
    if (!p.has_grad()) continue;
    Tensor g = p.grad();  // a handle: scaling it scales the gradient in place
    dispatch_dtype(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::binary_scalar<T>(g.data<T>(), g.data<T>(), static_cast<T>(coef),
                                kernels::BinaryOp::mul, g.numel());
    });
  }
  return norm;
}

}  // namespace fwp
