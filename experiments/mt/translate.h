// Translating with a Seq2Seq model: the model as a StepDecoder (search.h), whole corpora
// translated batch by batch, and the evaluation path every BLEU number of fwp-mt goes through:
// output ids -> SentencePiece detokenisation -> corpus BLEU against the RAW reference lines
// (sacreBLEU's conventions, experiments/data/bleu.h), never against re-tokenised references.
// The decoder carries its state (fast weights W, or softmax keys/values) from step to step, so
// each step costs O(1) (fast weights) or O(t) (softmax) per row; when the search reorders rows
// (beam search), every state tensor, batch-first, is gathered along its first dimension.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "experiments/data/bleu.h"
#include "experiments/data/mt_data.h"
#include "experiments/mt/search.h"
#include "layers/seq2seq.h"

namespace fwp::mt {

// One batch of sources (B, S) with their valid mask (B, S), encoded once at construction.
// Call model.eval() first (dropout off, FAVOR+ frozen); steps run under NoGradGuard.
class Seq2SeqStepDecoder : public StepDecoder {
 public:
  Seq2SeqStepDecoder(Seq2Seq& model, const Indices& src, const Tensor& src_valid);
  int64_t vocab_size() const override { return model_.config().tgt_vocab; }
  int64_t n_sources() const override { return src_.shape[0]; }
  Tensor step(const std::vector<int64_t>& parents, const std::vector<int64_t>& tokens) override;

 private:
  Seq2Seq& model_;
  Indices src_;
  Variable memory_all_;   // (B, S, D) encoder output of every source
  Tensor valid_all_;      // (B, S)
  Variable memory_;       // (n, S, D): the rows of the current step
  Tensor valid_;
  std::vector<int64_t> source_of_row_;  // source of each current row
  DecoderState state_;
  bool started_ = false;
};

// Rows `rows` of x along its first dimension: (B, ...) -> (rows.size(), ...).
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows);

// The (B, S) mask of real source tokens of a batch, in `dtype`.
Tensor source_valid_mask(const data::MtBatch& batch, DType dtype);

// Translates every example (batched by source length, at most max_tokens source positions per
// batch) and returns the hypotheses in the order of `examples`. `progress(done, total)` is
// called after each batch when given.
std::vector<Hypothesis> translate(Seq2Seq& model, const std::vector<data::MtExample>& examples,
                                  int64_t max_tokens, const SearchOptions& options,
                                  const std::function<void(int64_t, int64_t)>& progress = {});

struct BleuResult {
  std::vector<std::string> hypotheses;  // detokenised output, one line per reference
  data::BleuScore bleu;
};
// The evaluation path: ids -> text with the tokenizer, then corpus BLEU against the raw
// references (smoothing off, 13a tokenisation: exactly what `fwp-bleu hyp ref` prints).
BleuResult score_translations(const std::vector<Hypothesis>& hyps, const data::SubwordTokenizer& tok,
                              const std::vector<std::string>& references);

// Writes lines atomically (temp file + rename).
void write_lines(const std::string& path, const std::vector<std::string>& lines);

}  // namespace fwp::mt
