// Translation data: a SentencePiece subword vocabulary and padded batches of sentence pairs.
// Decisions (docs/DATA.md says why):
//  * ONE joint SentencePiece model (unigram, 8000 pieces, all characters covered) for Spanish
//    and English, trained on the train split of both sides only. Names and numbers share
//    pieces, and the encoder, decoder and output embeddings can be tied, as in the
//    joint-vocabulary WMT setups the paper's translation experiments come from.
//  * Ids are fixed, not SentencePiece's defaults: pad 0, unk 1, bos 2, eos 3.
//  * A pair enters the model as   src     = pieces(es) + eos
//                                 tgt_in  = bos + pieces(en)     (decoder input)
//                                 tgt_out = pieces(en) + eos     (what it must predict)
//    padded on the right with pad (0); lengths are given so attention can mask the padding.
//  * Batches hold pairs of similar length (sorted by source, then target length) and at most
//    max_tokens = B * max(S, T) padded positions; a pair longer than that forms its own batch.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/indices.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace fwp::data {

struct SubwordOptions {
  int vocab_size = 8000;            // upper bound (SentencePiece's soft limit)
  std::string model_type = "unigram";
  double character_coverage = 1.0;
  int num_threads = 2;
  uint32_t seed = 1;                // SentencePiece's random seed, for a reproducible model
};

// Trains on `sentences` and writes <model_prefix>.model and <model_prefix>.vocab.
// Throws fwp::Error with SentencePiece's message on failure.
void train_subword_model(const std::vector<std::string>& sentences,
                         const std::string& model_prefix, const SubwordOptions& options = {});

class SubwordTokenizer {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1, kBos = 2, kEos = 3;

  explicit SubwordTokenizer(const std::string& model_path);  // throws fwp::Error
  ~SubwordTokenizer();
  SubwordTokenizer(SubwordTokenizer&&) noexcept;

  int64_t size() const;
  std::vector<int64_t> encode(std::string_view text) const;      // pieces only, no bos/eos
  std::vector<std::string> pieces(std::string_view text) const;  // the same, as strings
  std::string decode(const std::vector<int64_t>& ids) const;     // pad/bos/eos are skipped

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

// All lines of a text file (without '\n'). Throws fwp::Error naming the path.
std::vector<std::string> read_lines(const std::string& path);

struct ParallelText {
  std::vector<std::string> src, tgt;
};
// Line i of src_path is the translation of line i of tgt_path. Throws when the line counts
// differ (naming both files and both counts).
ParallelText read_parallel(const std::string& src_path, const std::string& tgt_path);

struct MtExample {
  std::vector<int64_t> src;  // pieces + eos
  std::vector<int64_t> tgt;  // pieces (bos/eos are added by the batcher)
  int64_t index = 0;         // line number in the corpus
};
std::vector<MtExample> encode_parallel(const ParallelText& text, const SubwordTokenizer& tok);

struct MtBatch {
  Indices src;      // (B, S) source ids, eos, then pad
  Indices tgt_in;   // (B, T) bos, target ids, then pad
  Indices tgt_out;  // (B, T) target ids, eos, then pad
  std::vector<int64_t> src_lengths, tgt_lengths;  // unpadded S_b and T_b
  std::vector<int64_t> index;                     // MtExample::index of each row
};

struct BatchOptions {
  int64_t max_tokens = 4096;  // B * max(S, T) per batch
  bool shuffle = false;       // shuffle the order of the batches (not their contents)
  uint64_t seed = 1;
};
std::vector<MtBatch> make_batches(const std::vector<MtExample>& examples,
                                  const BatchOptions& options = {});

}  // namespace fwp::data
