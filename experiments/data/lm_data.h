// Word-level language-model data in the WikiText-103 format: a folder with train/valid/test
// token files (train.tokens, or WikiText's own wiki.train.tokens), tokens separated by
// whitespace. The conventions are those of the usual WikiText LM code (PyTorch's
// word_language_model, Transformer-XL, the authors' lmtool):
//   * every line, empty ones included, ends with an <eos> token;
//   * the vocabulary is built from train only; words below the frequency cut-off (or beyond the
//     size limit) map to <unk>, and a literal "<unk>" in the text (WikiText has them) is <unk>;
//   * the stream of a split is cut into B parallel streams, and segments of T steps are read in
//     order, so the state at the end of segment i continues in segment i+1 ("carry over").
// Ids: <eos> = 0, <unk> = 1, then words by descending train count (ties by byte order).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/indices.h"

namespace fwp::data {

struct VocabOptions {
  int64_t min_count = 1;  // keep words seen at least this often in train
  int64_t max_size = 0;   // at most this many ids in all, specials included (0: no limit)
};

class Vocabulary {
 public:
  static constexpr std::string_view kEos = "<eos>";
  static constexpr std::string_view kUnk = "<unk>";
  static constexpr int64_t kEosId = 0;
  static constexpr int64_t kUnkId = 1;

  // From word counts (e.g. count_words on the train file). <eos>/<unk> entries in `counts`
  // become the counts of the specials.
  static Vocabulary build(const std::unordered_map<std::string, int64_t>& counts,
                          const VocabOptions& options = {});

  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  int64_t id(std::string_view word) const;  // kUnkId for unknown words
  const std::string& word(int64_t id) const;
  int64_t count(int64_t id) const;  // train count (for <unk>: of everything mapped to it)

  // Text file: "fwp-vocab 1", then one "word<TAB>count" line per id in id order.
  void save(const std::string& path) const;
  static Vocabulary load(const std::string& path);  // throws fwp::Error naming path and line

 private:
  std::vector<std::string> words_;
  std::vector<int64_t> counts_;
  std::unordered_map<std::string, int64_t> index_;
  void add(std::string word, int64_t count);
};

// Word counts of a token file, with one <eos> per line. Throws fwp::Error if it cannot be read.
std::unordered_map<std::string, int64_t> count_words(const std::string& path);

// The ids of a token file: each line's words, then <eos>.
std::vector<int64_t> encode_file(const std::string& path, const Vocabulary& vocab);
std::vector<int64_t> encode_line(std::string_view line, const Vocabulary& vocab);  // no <eos>
// Plain text (a prompt) as the corpus was made: WikiText tokens first (wikitext.h: "apt-get" ->
// "apt @-@ get", "God's" -> "God 's"), then ids; no <eos>.
std::vector<int64_t> encode_text(std::string_view text, const Vocabulary& vocab);

// The file of a split in a WikiText-format folder: <dir>/<split>.tokens or
// <dir>/wiki.<split>.tokens. Throws fwp::Error listing both paths when neither exists.
std::string split_file(const std::string& dir, std::string_view split);

struct LmCorpus {
  Vocabulary vocab;
  std::vector<int64_t> train, valid, test;
};
LmCorpus load_lm_corpus(const std::string& dir, const VocabOptions& options = {});

// Streams for carry-over training/evaluation. The N tokens are cut into B contiguous streams of
// L = N / B tokens (the last N - B L tokens are dropped): stream b is tokens[b L, (b+1) L).
// Segment i holds inputs x[b][t] = stream_b[i T + t] and targets y[b][t] = stream_b[i T + t + 1]
// for t < T_i, where T_i = min(T, L - 1 - i T): the last segment may be shorter.
class LmBatches {
 public:
  LmBatches(const std::vector<int64_t>& tokens, int64_t batch, int64_t steps);
  int64_t num_segments() const;
  int64_t stream_length() const { return length_; }
  struct Segment {
    Indices input;   // (B, T_i)
    Indices target;  // (B, T_i)
  };
  Segment segment(int64_t i) const;

 private:
  std::vector<int64_t> streams_;  // (B, L) row-major
  int64_t batch_, steps_, length_;
};

}  // namespace fwp::data
