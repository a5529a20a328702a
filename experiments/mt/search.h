// Decoding by greedy search and beam search over any step-wise decoder (a StepDecoder).
// The one idea: a search only sees rows of hypotheses. Each step it says, for every new row,
// which row of the previous step it continues (its parent, whose decoder state it inherits) and
// which token it reads now, and gets back log p(next token | source, prefix) for every row.
// Rows of finished sentences are dropped, so the batch shrinks as sentences end.
// Beam search follows FAIRSEQ's SequenceGenerator (Ott et al. 2019), the code the paper's MT
// experiments ran in:
//   * a hypothesis' score is the sum of its token log-probabilities, eos included;
//   * each step, per sentence, the 2K best extensions of its K live beams are ranked; an eos
//     extension among the first K ranks ends a hypothesis with the normalised score
//     score / length^lenpen (length = tokens including eos), the first K non-eos extensions
//     are the next live beams;
//   * a sentence is done once K hypotheses have ended; at the maximum length eos is forced;
//   * the result is the ended hypothesis with the best normalised score.
// Ties are broken by lower row, then lower token id, so beam 1 is exactly greedy search.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace fwp::mt {

class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t n_sources() const = 0;
  // parents[i]: the row of the previous call that new row i continues; at the first call the
  // "rows" are the sources 0 .. n_sources-1. tokens[i]: the token row i reads now.
  // Returns log-probabilities of the next token, (n, V) with n = parents.size(), f32 or f64.
  virtual Tensor step(const std::vector<int64_t>& parents, const std::vector<int64_t>& tokens) = 0;
};

struct SearchOptions {
  int64_t bos = 2, eos = 3, pad = 0;  // bos and pad are never generated
  int64_t beam = 1;            // 1: greedy search
  double length_penalty = 1.0; // lenpen: score / length^lenpen (beam search only)
  // Maximum output length (tokens without eos) for a source of n tokens: a n + b.
  double max_len_a = 1.5;
  int64_t max_len_b = 10;
};

struct Hypothesis {
  std::vector<int64_t> tokens;  // without bos and eos
  double score = 0.0;           // sum of log-probabilities, eos included (if it ended with eos)
  double normalized = 0.0;      // score / (tokens.size() + 1)^lenpen
};

// Greedy search: each row takes its most probable token until eos or the maximum length.
// max_lens[s] is the maximum output length of source s (see max_output_length).
std::vector<Hypothesis> greedy_search(StepDecoder& decoder, const std::vector<int64_t>& max_lens,
                                      const SearchOptions& options);

// Beam search with options.beam live hypotheses per sentence (rules above).
std::vector<Hypothesis> beam_search(StepDecoder& decoder, const std::vector<int64_t>& max_lens,
                                    const SearchOptions& options);

// greedy_search when options.beam == 1, else beam_search.
std::vector<Hypothesis> search(StepDecoder& decoder, const std::vector<int64_t>& max_lens,
                               const SearchOptions& options);

int64_t max_output_length(int64_t source_length, const SearchOptions& options);

}  // namespace fwp::mt
