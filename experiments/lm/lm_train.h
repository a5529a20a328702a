// Training, benchmarking and the final evaluation of fwp-lm (paper Sec. 6.3, docs/THEORY.md section
// 9.2). Training reads the train stream as B parallel streams in consecutive segments of T tokens
// (data/lm_data.h) with Adam, linear warm-up + cosine decay and global grad-norm clipping.
// With carry-over, the fast-weight state at the end of a segment (detached: no gradient crosses
// the boundary) starts the next segment of the same stream; it is reset at every epoch.
// Everything needed to resume bit for bit (model, Adam moments, step, data position, carried
// state, dropout / FAVOR+ generators) is in OUT/checkpoint.safetensors (common/training_checkpoint.h).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/lm/lm_eval.h"

namespace fwp::lm {

struct LmTrainOptions {
  int64_t batch = 16;       // B parallel streams
  int64_t context = 256;    // T, tokens per segment
  int64_t steps = 20000;    // optimizer steps in all
  double lr = 2.5e-4;       // the paper's settings:
  int64_t warmup = 2000;    //   Adam, 2000 warm-up steps (fwp-lm: --steps / 10), cosine to 0,
  double clip = 0.25;       //   global grad-norm clip 0.25
  std::string schedule = "cosine";
  bool carry_over = false;
  int64_t log_every = 50;          // progress line and metrics row
  double log_seconds = 20.0;       // a progress line also after the first step and this often
  int64_t eval_every = 1000;       // validation perplexity (segments protocol)
  int64_t checkpoint_every = 500;  // and at the end, and when stopped by a signal
  int64_t valid_tokens = 0;        // valid tokens used during training (0: all)
  int64_t eval_batch = 1;
  std::string out;                 // folder: checkpoint.safetensors, metrics.csv
  bool resume = false;             // continue from OUT/checkpoint.safetensors
  int64_t stop_after = 0;          // stop (with a checkpoint) after this many steps of this call
};
nlohmann::json to_json(const LmTrainOptions& o);

struct LmTrainResult {
  int64_t steps = 0, tokens_seen = 0;
  double seconds = 0.0;           // training wall time (resumed runs included), evaluations too
  double train_loss = 0.0;        // mean over the last log interval
  double valid_perplexity = 0.0;  // of the last evaluation during training (0: none)
  bool interrupted = false;       // stopped early: signal or stop_after (a checkpoint was written)
};

// Trains `model` in place. `fingerprint` (e.g. the run's config as JSON) must match the
// checkpoint's on resume. Refuses to overwrite an existing checkpoint without `resume`.
LmTrainResult train_lm(TransformerLM& model, const std::vector<int64_t>& train,
                       const std::vector<int64_t>& valid, const LmTrainOptions& options,
                       const std::string& fingerprint, std::ostream& log);

// Times `steps` training steps (forward, backward, clip, Adam) after `warmup` untimed ones, on
// consecutive segments of `train`. tokens/s = B T / median step time. The process CPU time (all
// threads) per step is the steadier measure on a machine shared with other jobs.
struct LmBenchResult {
  double median_seconds = 0.0, min_seconds = 0.0, median_cpu_seconds = 0.0, tokens_per_second = 0.0;
};
LmBenchResult bench_lm_training(TransformerLM& model, const std::vector<int64_t>& train,
                                const LmTrainOptions& options, int64_t warmup, int64_t steps);

// The final evaluation of one split, as JSON {"<protocol>": {"ppl", "loss", "tokens", "seconds"}}:
//   segments        non-overlapping segments, no carry-over
//   segments_carry  ... with carry-over (fast-weight attention only); for a model trained
//                   without carry-over it is marked so ("note"): it never saw a carried state
//   sliding_s<S>    sliding window with stride S (when stride > 0)
//   sliding_s1_first<N>   stride 1 over the first N tokens (when slice > 0)
struct FinalEvalOptions {
  int64_t context = 256, batch = 1;
  int64_t stride = 0;         // 0: no sliding-window evaluation
  int64_t slice = 0;          // 0: no stride-1 slice
  int64_t window_batch = 16;  // windows per forward pass
  bool trained_with_carry = false;  // how the model was trained (labels segments_carry)
};
nlohmann::json evaluate_split(TransformerLM& model, const std::vector<int64_t>& tokens,
                              const FinalEvalOptions& options, std::ostream& log);

// Carry-over state <-> named tensors ("carry.<layer>.W", "carry.<layer>.z", "carry.length"),
// for checkpoints.
std::map<std::string, Tensor> lm_state_to_tensors(const LMState& state);
LMState lm_state_from_tensors(const std::map<std::string, Tensor>& tensors, int64_t n_layers,
                              Device device = Device::cpu);

}  // namespace fwp::lm
