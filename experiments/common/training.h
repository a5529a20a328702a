// What every training program shares: the learning-rate schedule, one optimisation step with
// global gradient-norm clipping, a progress line (step, loss, tokens/s, ETA), training
// checkpoints with --resume, metrics CSV and result JSON, a stop flag for Ctrl-C.
// The one idea: everything a run needs to continue exactly where it stopped lives in ONE
// safetensors file, written atomically and guarded by a checksum: parameters, optimizer state,
// step, tokens seen, data position, and every random generator (the model's own, found through
// Module::named_rngs(), plus the program's). A resumed run is then bit-identical to one that was
// never interrupted. Nothing here knows about a particular model or data set.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
// True when every value of t is finite (no NaN, no inf).
bool all_finite(const Tensor& t);
// "parameter '<name>'" or "optimizer state '<kind>' of '<name>'" for the first tensor of the
// optimizer's that holds a NaN or an inf; "" when all are finite.
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

// ---------------------------------------------------------------- checkpoints
struct TrainingState {
  int64_t step = 0;           // optimizer steps taken (checked against the optimizer on load)
  int64_t tokens_seen = 0;    // training tokens consumed
  int64_t epoch = 0;          // program-defined data position: e.g. pass over the data ...
  int64_t position = 0;       // ... and the next batch/segment within it
  double seconds = 0.0;       // training wall time so far (a resumed run keeps counting)
  std::map<std::string, std::string> extra;  // anything else the program needs (strings)
  std::map<std::string, Tensor> tensors;     // ... and tensors (e.g. a carried recurrent state)
};

// Writes, atomically, the module's parameters and buffers, the optimizer's state, `state` (its
// tensors as "run.<name>", optim/checkpoint.h), the
// states of module.named_rngs() and of the program's `rngs` (by name), the `fingerprint` (e.g.
// the run's config as JSON: what must not change between a run and its resumption) and a
// checksum over all of it. Metadata keys: "train.*", "rng.module.<path>", "rng.run.<name>".
void save_training_checkpoint(const std::string& path, const Module& module,
                              const Optimizer& optimizer, const TrainingState& state,
                              const std::map<std::string, Rng*>& rngs = {},
                              const std::string& fingerprint = "");

// Restores everything save_training_checkpoint wrote, into the same kinds of objects. Throws
// fwp::Error naming the file if it is corrupt (checksum, truncation, unreadable numbers,
// non-finite values), if the
// model or optimizer does not match it (names, shapes), if a random generator is missing, or if
// `fingerprint` is non-empty and differs from the saved one (for JSON objects the message lists
// the differing keys). Nothing is changed before every check has passed.
TrainingState load_training_checkpoint(const std::string& path, Module& module,
                                       Optimizer& optimizer,
                                       const std::map<std::string, Rng*>& rngs = {},
                                       const std::string& fingerprint = "");

// For evaluation and generation: loads only the parameters and buffers of a training checkpoint
// into `module`, after the same verification (checksum over every tensor and every metadata
// key, every tensor finite). Returns the metadata. Throws fwp::Error naming the file.
std::map<std::string, std::string> load_verified_checkpoint(const std::string& path, Module& module);

// ---------------------------------------------------------------- metrics and results
// A metrics CSV of numbers, rewritten atomically after every row. NaN is written as an empty
// field (e.g. no validation at this step). The first column must be the step.
class MetricsCsv {
 public:
  MetricsCsv(std::string path, std::vector<std::string> columns);
  // For --resume: reads the existing file (same columns) and drops rows after `step`, which an
  // interrupted run wrote after its last checkpoint.
  void resume(int64_t step);
  void add(const std::vector<double>& values);
  // The last number in `column` (rows in order; empty fields skipped), NaN if there is none.
  double last(const std::string& column) const;

 private:
  std::string path_;
  std::vector<std::string> columns_;
  CsvTable table_;
};

// Reads a JSON file; throws fwp::Error naming the file if it is unreadable or not JSON.
nlohmann::json read_json_file(const std::string& path);
// Pretty-printed (2 spaces) and written atomically.
void write_json(const std::string& path, const nlohmann::json& j);

// ---------------------------------------------------------------- process
// After install_stop_handler(), SIGINT/SIGTERM only set a flag: the loop checks stop_requested(),
// writes its checkpoint and returns. A second signal gets the default action (terminates).
// install_stop_handler(false) restores the default action (e.g. once the last checkpoint is out).
void install_stop_handler(bool on = true);
bool stop_requested();

// "cpu" is accepted; "cuda" throws "no CUDA backend in this build"; anything else throws.
void check_device(const std::string& device);
// threads > 0: use that many OpenMP threads (OpenBLAS-openmp follows). Returns the count in use.
int set_threads(int threads);

}  // namespace fwp::experiments
