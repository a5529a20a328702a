// Implementation of the shared training loop pieces: schedule, step, progress.
#include "experiments/common/training.h"

#include <bit>
#include <cmath>
#include <cstdio>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/functional.h"
#include "experiments/common/distributed.h"
#include "optim/schedule.h"

namespace fwp::experiments {

// ---------------------------------------------------------------- schedule

double LrSchedule::at(int64_t step) const {
  const double s = static_cast<double>(step) + 1.0, W = static_cast<double>(warmup_steps);
  switch (kind) {
    case Kind::cosine: return warmup_cosine_lr(step, base_lr, warmup_steps, total_steps);
    case Kind::constant: return step < warmup_steps ? base_lr * s / W : base_lr;
    case Kind::inverse_sqrt: return warmup_steps <= 0 ? base_lr : base_lr * std::min(s / W, std::sqrt(W / s));
  }
  return base_lr;
}

LrSchedule::Kind lr_schedule_kind_from_string(const std::string& name) {
  if (name == "cosine") return LrSchedule::Kind::cosine;
  if (name == "constant") return LrSchedule::Kind::constant;
  if (name == "inverse_sqrt") return LrSchedule::Kind::inverse_sqrt;
  throw Error(cat("unknown learning-rate schedule '", name, "' (expected cosine, constant or inverse_sqrt)"));
}

int64_t resolve_warmup(int64_t warmup, int64_t steps) {
  if (warmup < 0) return steps / 10;
  FWP_CHECK(warmup <= steps, "--warmup ", warmup, " is longer than the run (--steps ", steps,
            "): give --warmup <= ", steps, ", or leave it out for a tenth of the steps");
  return warmup;
}

std::string to_string(LrSchedule::Kind kind) {
  switch (kind) {
    case LrSchedule::Kind::cosine: return "cosine";
    case LrSchedule::Kind::constant: return "constant";
    case LrSchedule::Kind::inverse_sqrt: return "inverse_sqrt";
  }
  return "?";
}

// ---------------------------------------------------------------- one step

StepResult train_step(Optimizer& optimizer, const Variable& loss, const LrSchedule& schedule,
                      double clip_norm, GradientAverager* averager) {
  StepResult r;
  const int64_t step = optimizer.step_count();
  r.lr = schedule.at(step);
  // with an averager, a process whose share of the batch is empty passes no loss
  r.loss = averager ? averager->mean(loss.defined() ? loss.item() : 0.0) : loss.item();
  optimizer.zero_grad();
  if (!std::isfinite(r.loss)) {
    active_tape().clear();  // drop the recorded graph; nothing was updated
    throw Error(cat("training diverged at step ", step + 1, ": the loss is ", r.loss,
                    "; nothing was updated"));
  }
  if (averager) {
    averager->backward(loss);
  } else {
    backward(loss);
  }
  r.grad_norm = clip_grad_norm_(optimizer.params(), clip_norm > 0.0 ? clip_norm : INFINITY);
  if (!std::isfinite(r.grad_norm)) {  // name the first gradient that holds a NaN or an inf
    std::string which = "a gradient";
    for (const Variable& p : optimizer.params())
      if (p.has_grad() && !all_finite(p.grad())) {
        which = cat("the gradient of '", p.name(), "'");
        break;
      }
    throw Error(cat("training diverged at step ", step + 1, ": ", which,
                    " holds non-finite values (gradient norm ", r.grad_norm,
                    "); nothing was updated"));
  }
  optimizer.set_lr(r.lr);
  optimizer.step();
  // A step can overflow what it updates (a huge learning rate): name it before anything saves it.
  const std::string bad = find_non_finite(optimizer);
  FWP_CHECK(bad.empty(), "training diverged at step ", step + 1, ": ", bad,
            " holds non-finite values after the update (lr ", r.lr, ", loss ", r.loss,
            ", gradient norm ", r.grad_norm, ")");
  return r;
}

bool all_finite(const Tensor& t) {
  // A device tensor is read on the host: this one is for the failure path (naming the tensor)
  // and for checkpoints, which copy to the host anyway; a step checks all_finite_together.
  if (t.device() != Device::cpu) return all_finite(t.to(Device::cpu));
  // NaN and inf are the values whose exponent bits are all ones; integer tests vectorise
  auto scan = [n = t.numel()]<typename F, typename U>(const F* x, U exponent) {
    bool bad = false;
    for (int64_t i = 0; i < n; ++i) bad |= (std::bit_cast<U>(x[i]) & exponent) == exponent;
    return !bad;
  };
  if (t.dtype() == DType::f32) return scan(t.data<float>(), uint32_t(0x7f800000u));
  return scan(t.data<double>(), uint64_t(0x7ff0000000000000ull));
}

void name_parameters(const Module& module) {
  for (const auto& [path, v] : module.named_parameters()) {
    Variable handle = v;  // shares the parameter: the name is the parameter's
    handle.set_name(path);
  }
}

bool all_finite_together(const std::vector<Tensor>& tensors) {
  // x * 0 is 0 for a finite x and NaN for NaN or inf: the sum of the sums is finite exactly when
  // every value is. On the GPU that is one number copied back per step, not every tensor.
  Tensor total;
  for (const Tensor& t : tensors) {
    if (t.numel() == 0) continue;
    Tensor s = sum(mul(t, 0.0));  // 0 or NaN, so a change of dtype cannot change it
    total = total.defined() ? add(total, s.to(total.dtype())) : s;
  }
  return !total.defined() || std::isfinite(total.item());
}

std::string find_non_finite(const Optimizer& optimizer) {
  if (!optimizer.params().empty() && optimizer.params()[0].value().device() != Device::cpu) {
    std::vector<Tensor> tensors;
    for (const Variable& p : optimizer.params()) tensors.push_back(p.value());
    for (const std::string& kind : optimizer.state_kinds())
      for (size_t i = 0; i < optimizer.params().size(); ++i)
        tensors.push_back(optimizer.state(kind, i));
    if (all_finite_together(tensors)) return "";
    // something is not finite: the loops below name it (copying tensors to the host)
  }
  for (const Variable& p : optimizer.params())
    if (!all_finite(p.value())) return cat("parameter '", p.name(), "'");
  for (const std::string& kind : optimizer.state_kinds())
    for (size_t i = 0; i < optimizer.params().size(); ++i)
      if (!all_finite(optimizer.state(kind, i)))
        return cat("optimizer state '", kind, "' of '", optimizer.params()[i].name(), "'");
  return "";
}

// ---------------------------------------------------------------- progress

Progress::Progress(int64_t first_step, int64_t total_steps)
    : first_step_(first_step), total_steps_(total_steps) {}

void Progress::step_done(int64_t tokens, double seconds) {
  interval_tokens_ += tokens;
  interval_seconds_ += seconds;
}

bool Progress::due(int64_t step, int64_t every, double seconds) const {
  return step == first_step_ + 1 || (every > 0 && step % every == 0) || step >= total_steps_ ||
         (seconds > 0.0 && wall_.seconds() - last_line_ >= seconds);
}

std::string Progress::line(int64_t step, double loss, double lr) {
  last_rate_ = interval_seconds_ > 0.0 ? interval_tokens_ / interval_seconds_ : 0.0;
  interval_tokens_ = 0;
  interval_seconds_ = 0.0;
  const double elapsed = last_line_ = wall_.seconds();
  const int64_t done = step - first_step_;
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %*lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | %s elapsed",
                int(std::to_string(total_steps_).size()), static_cast<long long>(step),
                static_cast<long long>(total_steps_), loss, lr, last_rate_,
                format_duration(elapsed).c_str());
  std::string s = buf;
  if (done > 0 && step < total_steps_)
    s += " | ETA " + format_duration(elapsed / double(done) * double(total_steps_ - step));
  return s;
}

}  // namespace fwp::experiments
