// Perplexity of a language model over a token stream, by two protocols (docs/THEORY.md
// section 9.2):
//  (a) segments: the stream is cut into `batch` parallel streams (data/lm_data.h LmBatches) and
//      read in non-overlapping segments of T tokens. Each segment starts from nothing, or, with
//      carry-over, from the fast-weight state its stream's previous segment ended with.
//  (b) sliding window: windows of T input tokens, moved by `stride`. A window scores only the
//      targets no earlier window scored, so every target after the first window is predicted from
//      at least T - stride + 1 tokens of context; stride 1 gives each exactly T, the paper's
//      protocol (the authors' evaluation: batch 1, stride 1). Costs about N / stride windows.
// perplexity = exp(sum over scored targets of -log p(target | context) / number of targets).
// Both run in eval mode (no dropout, FAVOR+ features frozen) under a NoGradGuard.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "layers/transformer.h"

namespace fwp::lm {

struct EvalResult {
  double nll = 0.0;      // summed negative log-likelihood of the scored targets, nats
  int64_t targets = 0;   // number of scored targets
  double seconds = 0.0;  // wall time
  double loss() const { return targets ? nll / double(targets) : 0.0; }
  double perplexity() const;
};

// Protocol (a). Scores every target of every segment: B (L - 1) tokens for B streams of length
// L = N / B (the first token of a stream has no context; the last N - B L tokens are dropped).
// carry_over needs fast-weight attention (softmax attention has no fixed-size state).
EvalResult evaluate_segments(TransformerLM& model, const std::vector<int64_t>& tokens,
                             int64_t context, int64_t batch, bool carry_over,
                             std::ostream* log = nullptr);

// One window of protocol (b): inputs tokens[start, start + length), targets shifted by one; the
// targets at window positions >= first_scored are scored.
struct Window {
  int64_t start = 0, length = 0, first_scored = 0;
};
// The windows that score targets 1 .. N-1 of N tokens exactly once: the first window scores all
// its targets, each later one starts `stride` further (the last one is moved back to end at the
// last target) and scores the targets after the previous window's. Fewer than T + 1 tokens: one
// window of N - 1.
std::vector<Window> sliding_windows(int64_t n_tokens, int64_t context, int64_t stride);

// Protocol (b), `batch` windows per forward pass. Scores N - 1 targets. With `log`, prints a
// progress line (windows done, ETA) about every 30 seconds.
EvalResult evaluate_sliding(TransformerLM& model, const std::vector<int64_t>& tokens,
                            int64_t context, int64_t stride, int64_t batch,
                            std::ostream* log = nullptr);

// log p(tokens[j] | context) in nats for every target j = 1 .. N-1, each predicted from the
// sliding windows of protocol (b) (at least context - stride + 1 tokens of context once the
// first window is full): what `fwp-lm --score` writes. The mean of their negatives is
// evaluate_sliding's loss().
std::vector<double> token_log_probs(TransformerLM& model, const std::vector<int64_t>& tokens,
                                    int64_t context, int64_t stride);

}  // namespace fwp::lm
