// SentencePiece training/encoding and length-bucketed batches (conventions in mt_data.h).
#include "experiments/data/mt_data.h"

#include "core/file_io.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "core/rng.h"

namespace fwp::data {
namespace {

// Feeds SentencePiece's trainer from memory.
class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& s) : s_(s) {}
  bool done() const override { return i_ >= s_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return s_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& s_;
  size_t i_ = 0;
};

}  // namespace

void train_subword_model(const std::vector<std::string>& sentences,
                         const std::string& model_prefix, const SubwordOptions& o) {
  FWP_CHECK(!sentences.empty(), "train_subword_model: no sentences to train on");
  // No model_prefix: the model comes back in memory and we write the files, so the output
  // path is not recorded inside the model and its checksum depends on the data alone.
  std::unordered_map<std::string, std::string> args = {
      {"vocab_size", std::to_string(o.vocab_size)},
      {"model_type", o.model_type},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"num_threads", std::to_string(o.num_threads)},
      {"pad_id", "0"}, {"unk_id", "1"}, {"bos_id", "2"}, {"eos_id", "3"},
      {"hard_vocab_limit", "false"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "2"},
  };
  sentencepiece::SetRandomGeneratorSeed(o.seed);
  VectorIterator it(sentences);
  std::string model;
  auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  FWP_CHECK(status.ok(), "train_subword_model: SentencePiece failed for '", model_prefix,
            "': ", status.ToString());
  write_file_atomic(model_prefix + ".model", model);  // every write checked (a full disk)
  sentencepiece::SentencePieceProcessor sp;
  status = sp.LoadFromSerializedProto(model);
  FWP_CHECK(status.ok(), "train_subword_model: ", status.ToString());
  std::ostringstream vocab;
  for (int i = 0; i < sp.GetPieceSize(); ++i)
    vocab << sp.IdToPiece(i) << '\t' << sp.GetScore(i) << '\n';
  write_file_atomic(model_prefix + ".vocab", vocab.str());
}

SubwordTokenizer::SubwordTokenizer(const std::string& model_path)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  auto status = sp_->Load(model_path);
  FWP_CHECK(status.ok(), "SubwordTokenizer: cannot load '", model_path, "': ",
            status.ToString());
  FWP_CHECK(sp_->pad_id() == kPad && sp_->unk_id() == kUnk && sp_->bos_id() == kBos &&
                sp_->eos_id() == kEos,
            "SubwordTokenizer: '", model_path, "' has ids pad/unk/bos/eos = ", sp_->pad_id(), "/",
            sp_->unk_id(), "/", sp_->bos_id(), "/", sp_->eos_id(),
            ", fwp needs 0/1/2/3 (train it with train_subword_model)");
}

SubwordTokenizer::~SubwordTokenizer() = default;
SubwordTokenizer::SubwordTokenizer(SubwordTokenizer&&) noexcept = default;

int64_t SubwordTokenizer::size() const { return sp_->GetPieceSize(); }

std::vector<int64_t> SubwordTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  auto status = sp_->Encode(text, &ids);
  FWP_CHECK(status.ok(), "SubwordTokenizer::encode: ", status.ToString());
  return {ids.begin(), ids.end()};
}

std::vector<std::string> SubwordTokenizer::pieces(std::string_view text) const {
  std::vector<std::string> out;
  auto status = sp_->Encode(text, &out);
  FWP_CHECK(status.ok(), "SubwordTokenizer::pieces: ", status.ToString());
  return out;
}

std::string SubwordTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> kept;
  for (int64_t id : ids) {
    FWP_CHECK(id >= 0 && id < size(), "SubwordTokenizer::decode: id ", id, " out of range [0, ",
              size(), ")");
    if (id != kPad && id != kBos && id != kEos) kept.push_back(static_cast<int>(id));
  }
  std::string text;
  auto status = sp_->Decode(kept, &text);
  FWP_CHECK(status.ok(), "SubwordTokenizer::decode: ", status.ToString());
  return text;
}

std::vector<std::string> read_lines(const std::string& path) {
  FWP_CHECK(!is_directory(path), "read_lines: cannot read '", path, "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  FWP_CHECK(in.good(), "read_lines: cannot open '", path, "': ", std::strerror(errno));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  return lines;
}

ParallelText read_parallel(const std::string& src_path, const std::string& tgt_path) {
  ParallelText t{read_lines(src_path), read_lines(tgt_path)};
  FWP_CHECK(t.src.size() == t.tgt.size(), "read_parallel: '", src_path, "' has ", t.src.size(),
            " lines but '", tgt_path, "' has ", t.tgt.size());
  return t;
}

std::vector<MtExample> encode_parallel(const ParallelText& text, const SubwordTokenizer& tok) {
  std::vector<MtExample> out;
  for (size_t i = 0; i < text.src.size(); ++i) {
    MtExample e{tok.encode(text.src[i]), tok.encode(text.tgt[i]), static_cast<int64_t>(i)};
    e.src.push_back(SubwordTokenizer::kEos);
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

MtBatch pad_batch(const std::vector<MtExample>& ex, const std::vector<int64_t>& rows) {
  int64_t b = static_cast<int64_t>(rows.size()), s = 0, t = 0;
  for (int64_t r : rows) {
    s = std::max<int64_t>(s, ex[r].src.size());
    t = std::max<int64_t>(t, ex[r].tgt.size() + 1);
  }
  std::vector<int64_t> src(b * s, SubwordTokenizer::kPad), tin(b * t, SubwordTokenizer::kPad),
      tout(b * t, SubwordTokenizer::kPad);
  MtBatch batch;
  for (int64_t i = 0; i < b; ++i) {
    const MtExample& e = ex[rows[i]];
    std::copy(e.src.begin(), e.src.end(), src.begin() + i * s);
    tin[i * t] = SubwordTokenizer::kBos;
    std::copy(e.tgt.begin(), e.tgt.end(), tin.begin() + i * t + 1);
    std::copy(e.tgt.begin(), e.tgt.end(), tout.begin() + i * t);
    tout[i * t + e.tgt.size()] = SubwordTokenizer::kEos;
    batch.src_lengths.push_back(static_cast<int64_t>(e.src.size()));
    batch.tgt_lengths.push_back(static_cast<int64_t>(e.tgt.size()) + 1);
    batch.index.push_back(e.index);
  }
  batch.src = Indices(Shape{b, s}, std::move(src));
  batch.tgt_in = Indices(Shape{b, t}, std::move(tin));
  batch.tgt_out = Indices(Shape{b, t}, std::move(tout));
  return batch;
}

}  // namespace

std::vector<MtBatch> make_batches(const std::vector<MtExample>& ex, const BatchOptions& o) {
  FWP_CHECK(o.max_tokens >= 1, "make_batches: max_tokens must be >= 1, got ", o.max_tokens);
  std::vector<int64_t> order(ex.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    if (ex[a].src.size() != ex[b].src.size()) return ex[a].src.size() < ex[b].src.size();
    return ex[a].tgt.size() < ex[b].tgt.size();
  });
  std::vector<MtBatch> batches;
  std::vector<int64_t> rows;
  int64_t width = 0;  // max(S, T) of the rows so far
  for (int64_t r : order) {
    int64_t w = std::max<int64_t>(ex[r].src.size(), ex[r].tgt.size() + 1);
    int64_t new_width = std::max(width, w);
    if (!rows.empty() && static_cast<int64_t>(rows.size() + 1) * new_width > o.max_tokens) {
      batches.push_back(pad_batch(ex, rows));
      rows.clear();
      new_width = w;
    }
    rows.push_back(r);
    width = new_width;
  }
  if (!rows.empty()) batches.push_back(pad_batch(ex, rows));
  if (o.shuffle) {
    Rng rng(o.seed);
    std::vector<int64_t> perm = rng.permutation(static_cast<int64_t>(batches.size()));
    std::vector<MtBatch> shuffled;
    for (int64_t p : perm) shuffled.push_back(std::move(batches[p]));
    batches = std::move(shuffled);
  }
  return batches;
}

}  // namespace fwp::data
