// Perplexity by non-overlapping segments and by sliding windows. Targets that a window does not
// score are given the ignore index, so cross_entropy's mean covers exactly the scored ones and
// mean * count is their summed negative log-likelihood.
#include "experiments/lm/lm_eval.h"

#include <cmath>
#include <ostream>

#include "autograd/functions.h"
#include "autograd/tape.h"
#include "experiments/common/run_utils.h"
#include "experiments/data/lm_data.h"

namespace fwp::lm {

namespace {

constexpr int64_t kIgnore = -100;

// Puts the model in eval mode for the lifetime of the guard, then back.
class EvalMode {
 public:
  explicit EvalMode(Module& m) : m_(m), was_training_(m.training()) { m_.eval(); }
  ~EvalMode() { m_.train(was_training_); }

 private:
  Module& m_;
  bool was_training_;
};

// Summed NLL of the non-ignored targets of one forward pass.
double summed_nll(const Variable& logits, const Indices& targets, int64_t* count) {
  int64_t n = 0;
  for (int64_t t : targets.values) n += t != kIgnore;
  *count += n;
  if (n == 0) return 0.0;
  return cross_entropy(logits, targets, kIgnore).item() * double(n);
}

// "eval 120/1800 windows | 1m 02s elapsed | ETA 14m 30s", at most every 30 s.
void maybe_log(std::ostream* log, const char* what, int64_t done, int64_t total,
               const experiments::Stopwatch& wall, double& last) {
  if (!log || wall.seconds() - last < 30.0) return;
  last = wall.seconds();
  *log << "  eval " << done << "/" << total << " " << what << " | "
       << experiments::format_duration(last) << " elapsed | ETA "
       << experiments::format_duration(last / double(done) * double(total - done)) << std::endl;
}

}  // namespace

double EvalResult::perplexity() const { return std::exp(loss()); }

EvalResult evaluate_segments(TransformerLM& model, const std::vector<int64_t>& tokens,
                             int64_t context, int64_t batch, bool carry_over, std::ostream* log) {
  FWP_CHECK(context > 0 && batch > 0, "evaluate_segments: context and batch must be positive, got ",
            context, " and ", batch);
  FWP_CHECK(!carry_over || model.config().attention.kind == AttentionKind::fast_weight,
            "evaluate_segments: carry-over needs fast-weight attention (softmax attention has no "
            "fixed-size state to carry)");
  experiments::Stopwatch wall;
  NoGradGuard no_grad;
  EvalMode eval_mode(model);
  data::LmBatches batches(tokens, batch, context);
  EvalResult r;
  LMState state;
  double last_log = 0.0;
  for (int64_t i = 0; i < batches.num_segments(); ++i) {
    data::LmBatches::Segment seg = batches.segment(i);
    Variable logits = model.forward(seg.input, carry_over ? &state : nullptr);
    r.nll += summed_nll(logits, seg.target, &r.targets);
    maybe_log(log, "segments", i + 1, batches.num_segments(), wall, last_log);
  }
  r.seconds = wall.seconds();
  return r;
}

std::vector<Window> sliding_windows(int64_t n, int64_t context, int64_t stride) {
  FWP_CHECK(context > 0 && stride > 0 && stride <= context,
            "sliding window: need 0 < stride <= context, got stride ", stride, " and context ", context);
  std::vector<Window> out;
  if (n < 2) return out;
  if (n - 1 <= context) return {Window{0, n - 1, 0}};
  out.push_back(Window{0, context, 0});
  int64_t scored_end = context;  // targets 1 .. scored_end are scored (target j = start + pos + 1)
  while (scored_end < n - 1) {
    const int64_t start = std::min(out.back().start + stride, n - 1 - context);
    out.push_back(Window{start, context, scored_end - start});
    scored_end = start + context;
  }
  return out;
}

EvalResult evaluate_sliding(TransformerLM& model, const std::vector<int64_t>& tokens,
                            int64_t context, int64_t stride, int64_t batch, std::ostream* log) {
  FWP_CHECK(batch > 0, "evaluate_sliding: batch must be positive, got ", batch);
  const std::vector<Window> windows = sliding_windows(int64_t(tokens.size()), context, stride);
  experiments::Stopwatch wall;
  NoGradGuard no_grad;
  EvalMode eval_mode(model);
  EvalResult r;
  double last_log = 0.0;
  const int64_t n = int64_t(windows.size());
  for (int64_t w0 = 0; w0 < n; w0 += batch) {
    const int64_t B = std::min(batch, n - w0), T = windows[w0].length;  // all windows but a lone one have length T
    std::vector<int64_t> in(B * T), tgt(B * T);
    for (int64_t b = 0; b < B; ++b) {
      const Window& w = windows[w0 + b];
      for (int64_t t = 0; t < T; ++t) {
        in[b * T + t] = tokens[w.start + t];
        tgt[b * T + t] = t >= w.first_scored ? tokens[w.start + t + 1] : kIgnore;
      }
    }
    Variable logits = model.forward(Indices({B, T}, std::move(in)));
    r.nll += summed_nll(logits, Indices({B, T}, std::move(tgt)), &r.targets);
    maybe_log(log, "windows", w0 + B, n, wall, last_log);
  }
  r.seconds = wall.seconds();
  return r;
}

std::vector<double> token_log_probs(TransformerLM& model, const std::vector<int64_t>& tokens,
                                    int64_t context, int64_t stride) {
  NoGradGuard no_grad;
  EvalMode eval_mode(model);
  std::vector<double> out;
  for (const Window& w : sliding_windows(int64_t(tokens.size()), context, stride)) {
    std::vector<int64_t> in(tokens.begin() + w.start, tokens.begin() + w.start + w.length);
    const Tensor logits = model.forward(Indices({1, w.length}, std::move(in))).value().to(DType::f64);
    const int64_t V = logits.shape().back();
    const double* row = logits.data<double>();
    for (int64_t t = w.first_scored; t < w.length; ++t) {  // log_softmax(row t)[target]
      const double* z = row + t * V;
      double mx = -INFINITY, sum = 0.0;
      for (int64_t v = 0; v < V; ++v) mx = std::max(mx, z[v]);
      for (int64_t v = 0; v < V; ++v) sum += std::exp(z[v] - mx);
      out.push_back(z[tokens[w.start + t + 1]] - mx - std::log(sum));
    }
  }
  return out;
}

}  // namespace fwp::lm
