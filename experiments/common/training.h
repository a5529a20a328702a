// What every training loop shares: the learning-rate schedule, one optimisation step with
// global gradient-norm clipping (and the checks that name a tensor gone non-finite), and the
// progress line (step, loss, tokens/s, ETA). The rest a training program shares is by concept:
// training_checkpoint.h (checkpoints and --resume), run_utils.h (metrics CSV, result JSON),
// process.h (Ctrl-C, device, threads). Nothing here knows about a particular model or data set.
#pragma once
#include <cstdint>
#include <string>

#include "experiments/common/run_utils.h"
#include "layers/module.h"
#include "optim/optimizer.h"

namespace fwp::experiments {

class GradientAverager;  // experiments/common/distributed.h

// ---------------------------------------------------------------- learning-rate schedule
// lr at `step` (optimizer steps taken so far, from 0), W = warmup_steps, S = total_steps:
//   cosine        linear warm-up to base over W steps, then cosine to 0 at S (optim/schedule.h)
//   constant      linear warm-up, then base
//   inverse_sqrt  base min((step + 1) / W, sqrt(W / (step + 1)))   (Vaswani et al. 2017, W >= 1)
struct LrSchedule {
  enum class Kind { cosine, constant, inverse_sqrt };
  Kind kind = Kind::cosine;
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double at(int64_t step) const;
};
LrSchedule::Kind lr_schedule_kind_from_string(const std::string& name);  // "cosine", ...
// The warm-up of a program's run: `warmup` < 0 (--warmup not given) becomes a tenth of `steps`
// (the paper's 2000 of 20000 LM steps), so the defaults fit any --steps. Throws fwp::Error
// naming --warmup and --steps when a given warm-up is longer than the run.
int64_t resolve_warmup(int64_t warmup, int64_t steps);
std::string to_string(LrSchedule::Kind kind);

// ---------------------------------------------------------------- one training step
struct StepResult {
  double loss = 0.0;       // loss.item()
  double grad_norm = 0.0;  // global L2 norm of all gradients BEFORE clipping
  double lr = 0.0;         // the learning rate this step used
};
// Sets the optimizer's lr to schedule.at(optimizer.step_count()), zeroes the gradients, runs
// backward(loss), clips the global gradient norm to clip_norm (<= 0: no clipping, the norm is
// still measured) and steps. Throws fwp::Error naming the step and the first non-finite tensor:
// the loss or the gradient of a parameter (nothing is then updated), or a parameter or optimizer
// state after the update (the caller must then not save that state; save_training_checkpoint
// refuses it anyway).
// With an `averager` (data-parallel training, experiments/common/distributed.h) the backward
// averages every gradient over the processes, and the loss reported is the mean of their losses:
// each process then takes the same step.
StepResult train_step(Optimizer& optimizer, const Variable& loss, const LrSchedule& schedule,
                      double clip_norm, GradientAverager* averager = nullptr);

// Names every parameter of `module` by its module path ("blocks.0.ff.w1.weight"), the name the
// errors of train_step and find_non_finite give (a layer names its own parameters "weight").
void name_parameters(const Module& module);
// True when every value of t is finite (no NaN, no inf). A device tensor is copied to the host.
bool all_finite(const Tensor& t);
// True when every value of every tensor is finite, on the tensors' device: one number comes back.
bool all_finite_together(const std::vector<Tensor>& tensors);
// "parameter '<name>'" or "optimizer state '<kind>' of '<name>'" for the first tensor of the
// optimizer's that holds a NaN or an inf; "" when all are finite. Device tensors are checked on
// the device together first; only a failure copies them to the host to find the name.
std::string find_non_finite(const Optimizer& optimizer);

// ---------------------------------------------------------------- progress line
// Tokens/s count training time only (what the caller passes to step_done), so evaluations do not
// lower it; the ETA uses wall time per step since the start, evaluations included.
// Lines are due by steps AND by time: a slow model shows its first line (and so its ETA) after
// its first step, not after minutes, and then at least every `seconds` seconds.
class Progress {
 public:
  Progress(int64_t first_step, int64_t total_steps);
  void step_done(int64_t tokens, double seconds);  // after each training step
  // True after the first step of this call, at multiples of `every` steps, at the last step, and
  // when `seconds` have passed since the previous line.
  bool due(int64_t step, int64_t every, double seconds) const;
  // "step   1200/20000 | loss 5.1234 | lr 2.50e-04 | 3104 tok/s | 6m 26s elapsed | ETA 1h 40m"
  // Tokens/s is over the steps since the previous line; calling line() starts a new interval.
  std::string line(int64_t step, double loss, double lr);
  double tokens_per_second() const { return last_rate_; }  // of the last line()

 private:
  int64_t first_step_, total_steps_;
  int64_t interval_tokens_ = 0;
  double interval_seconds_ = 0.0, last_rate_ = 0.0, last_line_ = 0.0;  // wall time of the last line
  Stopwatch wall_;
};

}  // namespace fwp::experiments
