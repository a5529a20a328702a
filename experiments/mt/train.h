// Training and evaluating the translation model of fwp-mt (paper Sec. 6.2, docs/THEORY.md section
// 9.3): the Bible corpus as subword examples, the label-smoothed loss, the training loop (Adam,
// warm-up + schedule, clipping, token-sized batches, progress, checkpoints every evaluation,
// --resume bit-exact through experiments/common/training_checkpoint.h), validation loss, and translating a
// split into a file with its BLEU score.
// Label smoothing (Szegedy et al. 2016, eq. for q'(k)): the target distribution is
//   q = (1 - eps) onehot(y) + eps / V,   so   loss = (1 - eps) (-log p_y) + eps mean_v(-log p_v),
// averaged over the non-pad target tokens of the batch. Reported perplexities use the plain NLL.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/common/training.h"
#include "experiments/data/mt_data.h"
#include "experiments/mt/translate.h"
#include "layers/seq2seq.h"

namespace fwp::mt {

struct MtSplit {
  std::vector<data::MtExample> examples;  // subword ids (src + eos, tgt)
  std::vector<std::string> references;    // the raw target lines, what BLEU compares with
};

struct MtData {
  data::SubwordTokenizer tokenizer;
  MtSplit train, valid, test;
  const MtSplit& split(const std::string& name) const;  // "train", "valid" or "test"
};

// Reads DIR/{train,valid,test}.{SRC,TGT} and DIR/spm.model. Throws fwp::Error naming the file.
MtData load_mt_data(const std::string& dir, const std::string& src_lang = "es",
                    const std::string& tgt_lang = "en");

struct MtLoss {
  Variable loss;      // what is minimised: label-smoothed cross-entropy per target token
  double nll = 0.0;   // plain cross-entropy per target token (no smoothing)
  int64_t tokens = 0; // non-pad target tokens
};
// logits (B, T, V), targets (B, T); positions whose target is `pad` do not count.
MtLoss label_smoothed_loss(const Variable& logits, const Indices& targets, double eps, int64_t pad);

// Teacher-forced forward of one batch: logits (B, T, V_tgt).
Variable forward_batch(Seq2Seq& model, const data::MtBatch& batch);

// Mean NLL per target token over all batches (eval mode, no gradients).
double evaluate_loss(Seq2Seq& model, const std::vector<data::MtBatch>& batches);

struct MtTrainOptions {
  std::string out;                    // folder: checkpoint.safetensors, metrics.csv
  int64_t steps = 4000;               // optimizer steps in all
  int64_t max_tokens = 4096;          // padded positions per batch, B * max(S, T)
  experiments::LrSchedule schedule;   // total_steps is set to `steps`
  double clip = 1.0;                  // global gradient-norm clipping (<= 0: off)
  double label_smoothing = 0.1;
  double adam_beta1 = 0.9, adam_beta2 = 0.98, adam_eps = 1e-8, weight_decay = 0.0;
  int64_t log_every = 50;             // progress line and a metrics row
  double log_seconds = 20.0;          // a progress line also after the first step and this often
  int64_t eval_every = 500;           // validation loss, a metrics row, a checkpoint
  int64_t valid_bleu_every = 0;       // greedy BLEU on valid at these steps too (0: never)
  int64_t eval_max_tokens = 8192;     // source positions per decoding batch
  bool resume = false;                // continue from OUT/checkpoint.safetensors
  uint64_t seed = 1;                  // order of the batches in every epoch
  std::string fingerprint;            // what a resumed run must share (the config as JSON)
};

struct MtTrainResult {
  int64_t steps = 0, tokens_seen = 0, epoch = 0;
  double seconds = 0.0;               // training time (resumes add up)
  double valid_loss = 0.0;            // at the last evaluation
  bool stopped = false;               // interrupted (Ctrl-C); the checkpoint is written
};

std::string checkpoint_path(const std::string& out);
MtTrainResult train(Seq2Seq& model, const MtData& data, const MtTrainOptions& options);

struct SplitResult {
  data::BleuScore bleu;
  double seconds = 0.0;     // decoding time
  int64_t sentences = 0;
};
// Translates a split with `search`, writes OUT_FILE (one detokenised line per source line) and
// scores it against the split's raw references. `log` receives progress lines.
SplitResult translate_split(Seq2Seq& model, const MtData& data, const MtSplit& split,
                            const SearchOptions& search, int64_t max_tokens,
                            const std::string& out_file, bool verbose);

}  // namespace fwp::mt
