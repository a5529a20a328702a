// The Seq2Seq step decoder, corpus translation and the BLEU evaluation path (translate.h).
#include "experiments/mt/translate.h"

#include <algorithm>
#include <numeric>

#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/file_io.h"
#include "core/functional.h"

namespace fwp::mt {

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  const int64_t B = x.size(0), rest = x.numel() / std::max<int64_t>(B, 1);
  for (int64_t r : rows) FWP_CHECK(r >= 0 && r < B, "gather_rows: row ", r, " outside [0, ", B, ")");
  Tensor out = embedding(x.reshape({B, rest}), Indices({int64_t(rows.size())}, rows));
  Shape shape = x.shape();  // a Shape is a std::vector<int64_t>
  shape[0] = static_cast<int64_t>(rows.size());
  return out.reshape(shape);
}

Tensor source_valid_mask(const data::MtBatch& batch, DType dtype) {
  const int64_t B = batch.src.shape[0], S = batch.src.shape[1];
  std::vector<double> m(B * S, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < batch.src_lengths[b]; ++s) m[b * S + s] = 1.0;
  return Tensor::from_vector(m, {B, S}, dtype);
}

Seq2SeqStepDecoder::Seq2SeqStepDecoder(Seq2Seq& model, const Indices& src, const Tensor& src_valid)
    : model_(model), src_(src), valid_all_(src_valid) {
  NoGradGuard no_grad;
  memory_all_ = model_.encode(src, src_valid);
  memory_ = memory_all_;
  valid_ = valid_all_;
  source_of_row_.resize(src.shape[0]);
  std::iota(source_of_row_.begin(), source_of_row_.end(), 0);
}

Tensor Seq2SeqStepDecoder::step(const std::vector<int64_t>& parents, const std::vector<int64_t>& tokens) {
  NoGradGuard no_grad;
  FWP_CHECK(parents.size() == tokens.size() && !parents.empty(), "Seq2SeqStepDecoder: ",
            parents.size(), " parents and ", tokens.size(), " tokens (need as many, at least one)");
  const int64_t n = static_cast<int64_t>(parents.size()), prev = static_cast<int64_t>(source_of_row_.size());
  std::vector<int64_t> sources(n);
  bool same_rows = n == prev;
  for (int64_t i = 0; i < n; ++i) {
    FWP_CHECK(parents[i] >= 0 && parents[i] < prev, "Seq2SeqStepDecoder: parent ", parents[i],
              " outside the ", prev, " rows of the previous step");
    sources[i] = source_of_row_[parents[i]];
    same_rows = same_rows && parents[i] == i;
  }
  if (!same_rows) {
    // every state tensor is batch-first: W (n, H, Dv, Ddot), z (n, H, Ddot), keys/values
    // (n, H, t, d), and the cross-attention caches (n, H, S, d) or (n, H, Ddot, d), (n, H, 1, Ddot)
    auto gather = [&](std::vector<Variable*> tensors) {
      for (Variable* v : tensors)
        if (v->defined()) *v = Variable(gather_rows(v->value(), parents));
    };
    for (AttentionState& s : state_.layers) gather(s.tensors());
    for (CrossAttentionCache& c : state_.cross) gather(c.tensors());  // the memory's part
    if (sources != source_of_row_) {
      memory_ = Variable(gather_rows(memory_all_.value(), sources));
      valid_ = gather_rows(valid_all_, sources);
    }
    source_of_row_ = std::move(sources);
  }
  const int64_t V = vocab_size();
  Tensor logits = model_.decode(Indices({n, 1}, tokens), memory_, valid_, &state_).value();
  return log_softmax(logits.reshape({n, V}), -1);
}

std::vector<Hypothesis> translate(Seq2Seq& model, const std::vector<data::MtExample>& examples,
                                  int64_t max_tokens, const SearchOptions& options,
                                  const std::function<void(int64_t, int64_t)>& progress) {
  const DType dtype = model.named_parameters().front().second.dtype();
  std::vector<data::MtBatch> batches = data::make_batches(examples, {.max_tokens = max_tokens});
  std::vector<Hypothesis> out(examples.size());
  std::vector<bool> seen(examples.size(), false);
  // make_batches reports MtExample::index; map it back to the position in `examples`
  std::vector<std::pair<int64_t, int64_t>> index_to_pos;
  for (size_t i = 0; i < examples.size(); ++i) index_to_pos.emplace_back(examples[i].index, i);
  std::sort(index_to_pos.begin(), index_to_pos.end());
  int64_t done = 0;
  for (const data::MtBatch& batch : batches) {
    Seq2SeqStepDecoder decoder(model, batch.src, source_valid_mask(batch, dtype));
    std::vector<int64_t> max_lens;
    for (int64_t len : batch.src_lengths) max_lens.push_back(max_output_length(len, options));
    std::vector<Hypothesis> hyps = search(decoder, max_lens, options);
    for (size_t b = 0; b < hyps.size(); ++b) {
      auto it = std::lower_bound(index_to_pos.begin(), index_to_pos.end(),
                                 std::make_pair(batch.index[b], int64_t(-1)));
      FWP_CHECK(it != index_to_pos.end() && it->first == batch.index[b] && !seen[it->second],
                "translate: examples must have distinct indices (", batch.index[b], ")");
      seen[it->second] = true;
      out[it->second] = std::move(hyps[b]);
    }
    done += static_cast<int64_t>(hyps.size());
    if (progress) progress(done, static_cast<int64_t>(examples.size()));
  }
  return out;
}

BleuResult score_translations(const std::vector<Hypothesis>& hyps, const data::SubwordTokenizer& tok,
                              const std::vector<std::string>& references) {
  FWP_CHECK(hyps.size() == references.size(), "score_translations: ", hyps.size(),
            " translations for ", references.size(), " references");
  BleuResult r;
  for (const Hypothesis& h : hyps) r.hypotheses.push_back(tok.decode(h.tokens));
  r.bleu = data::corpus_bleu(r.hypotheses, {references});
  return r;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  write_file_atomic(path, text);
}

}  // namespace fwp::mt
