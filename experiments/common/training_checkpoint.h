// Training checkpoints and --resume, shared by the training programs.
// The one idea: everything a run needs to continue exactly where it stopped lives in ONE
// safetensors file, written atomically and guarded by a checksum: parameters, optimizer state,
// step, tokens seen, data position, and every random generator (the model's own, found through
// Module::named_rngs(), plus the program's). A resumed run is then bit-identical to one that was
// never interrupted.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "layers/module.h"
#include "optim/optimizer.h"

namespace fwp::experiments {

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

}  // namespace fwp::experiments
