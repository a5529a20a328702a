// One training run of the retrieval model with the authors' protocol (docs/THEORY.md section 9.1):
// Adam, eval every `eval_every` steps on `eval_sequences` fresh sequences (every distinct key
// queried), stop when the eval loss <= stop_loss, or when `patience` + 1 evaluations in a row
// bring no improvement (the authors' "strike > 10"), or at max_steps. With a checkpoint path,
// an interrupted run (Ctrl-C, stop_after) continues where it stopped.
#pragma once
#include <iosfwd>
#include <string>

#include "experiments/synthetic/retrieval_model.h"

namespace fwp::synthetic {

struct TrainConfig {
  int setting = 1;
  ModelConfig model;
  int64_t batch_size = 32;
  double lr = 1e-3;
  int64_t max_steps = 100000;
  int64_t eval_every = 100;
  int64_t eval_sequences = 20;
  double stop_loss = 0.001;
  int64_t patience = 10;
  bool eval_at_train_length = false;  // the authors evaluate on length-S sequences in both settings
  uint64_t seed = 1;
  Device device = Device::cpu;        // where the model trains (initialised on the host)
  std::string curve_csv;              // (step, eval loss) per evaluation; empty = none
  // A training checkpoint written at every evaluation (empty: none). If the file exists, the run
  // continues from it bit-identically (experiments/common/training_checkpoint.h); it is removed at the end.
  std::string checkpoint;
  int64_t stop_after = 0;             // stop with a checkpoint after this many steps (0: never)
};

struct TrainResult {
  double final_eval_loss = 0.0;  // the last evaluation, what the paper's figures plot; NaN if diverged
  double best_eval_loss = 0.0;
  int64_t steps = 0;
  double seconds = 0.0;          // wall time of the whole run, evaluations included
  double train_steps_per_second = 0.0;
  std::string stop_reason;       // "solved", "no improvement", "max steps", "diverged at step N"
  bool interrupted = false;      // stopped by a signal or stop_after; the checkpoint is written
};

TrainResult train_retrieval(const TrainConfig& config, std::ostream& log);

// Mean eval loss over `sequences` fresh evaluation sequences (each batch weighted equally, as in
// the authors' code). Runs under NoGradGuard.
double evaluate_retrieval(RetrievalModel& model, const RetrievalTask& task, int64_t length,
                          int64_t batch_size, int64_t sequences, Rng& rng);

}  // namespace fwp::synthetic
