// WikiText-format reading, the word vocabulary and the carry-over batching (see lm_data.h).
#include "experiments/data/lm_data.h"

#include "core/file_io.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "experiments/data/wikitext.h"

namespace fwp::data {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Calls f(word) for each whitespace-separated word of `line`.
template <typename F>
void for_each_word(std::string_view line, F&& f) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t begin = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > begin) f(line.substr(begin, i - begin));
  }
}

std::ifstream open_text(const std::string& path, const char* who) {
  FWP_CHECK(!is_directory(path), who, ": cannot read '", path, "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  FWP_CHECK(in.good(), who, ": cannot open '", path, "': ", std::strerror(errno));
  return in;
}

}  // namespace

void Vocabulary::add(std::string word, int64_t count) {
  index_.emplace(word, size());
  words_.push_back(std::move(word));
  counts_.push_back(count);
}

Vocabulary Vocabulary::build(const std::unordered_map<std::string, int64_t>& counts,
                             const VocabOptions& options) {
  FWP_CHECK(options.max_size == 0 || options.max_size >= 2,
            "Vocabulary::build: max_size must be 0 (no limit) or at least 2 (<eos>, <unk>), got ",
            options.max_size);
  FWP_CHECK(options.min_count >= 1, "Vocabulary::build: min_count must be >= 1, got ",
            options.min_count);
  std::vector<std::pair<std::string, int64_t>> words;
  int64_t eos_count = 0, unk_count = 0;
  for (const auto& [w, c] : counts) {
    if (w == kEos) eos_count += c;
    else if (w == kUnk) unk_count += c;
    else words.emplace_back(w, c);
  }
  std::sort(words.begin(), words.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  Vocabulary v;
  v.add(std::string(kEos), eos_count);
  v.add(std::string(kUnk), unk_count);
  for (auto& [w, c] : words) {
    bool fits = options.max_size == 0 || v.size() < options.max_size;
    if (c >= options.min_count && fits) v.add(std::move(w), c);
    else v.counts_[kUnkId] += c;
  }
  return v;
}

int64_t Vocabulary::id(std::string_view word) const {
  auto it = index_.find(std::string(word));
  return it == index_.end() ? kUnkId : it->second;
}

const std::string& Vocabulary::word(int64_t id) const {
  FWP_CHECK(id >= 0 && id < size(), "Vocabulary::word: id ", id, " out of range [0, ", size(),
            ")");
  return words_[id];
}

int64_t Vocabulary::count(int64_t id) const {
  word(id);  // range check
  return counts_[id];
}

void Vocabulary::save(const std::string& path) const {
  std::string out = "fwp-vocab 1\n";  // written atomically, every write checked (a full disk)
  for (int64_t i = 0; i < size(); ++i) out += cat(words_[i], '\t', counts_[i], '\n');
  write_file_atomic(path, out);
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::ifstream in = open_text(path, "Vocabulary::load");
  std::string line;
  FWP_CHECK(std::getline(in, line) && line == "fwp-vocab 1", "Vocabulary::load: '", path,
            "' is not an fwp vocabulary (line 1 must be 'fwp-vocab 1')");
  Vocabulary v;
  for (int64_t line_no = 2; std::getline(in, line); ++line_no) {
    size_t tab = line.find('\t');
    bool ok = tab != std::string::npos && tab > 0 && tab + 1 < line.size();
    std::string word = ok ? line.substr(0, tab) : "";
    std::string digits = ok ? line.substr(tab + 1) : "";
    ok = ok && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    ok = ok && std::none_of(word.begin(), word.end(), is_space) && digits.size() <= 18;
    FWP_CHECK(ok, "Vocabulary::load: '", path, "' line ", line_no,
              ": expected 'word<TAB>count', got '", line.substr(0, 60), "'");
    int64_t id = v.size();
    FWP_CHECK(id != kEosId || word == kEos, "Vocabulary::load: '", path, "' line ", line_no,
              ": id 0 must be ", kEos, ", got '", word, "'");
    FWP_CHECK(id != kUnkId || word == kUnk, "Vocabulary::load: '", path, "' line ", line_no,
              ": id 1 must be ", kUnk, ", got '", word, "'");
    FWP_CHECK(!v.index_.count(word), "Vocabulary::load: '", path, "' line ", line_no,
              ": duplicate word '", word, "'");
    v.add(word, std::stoll(digits));
  }
  FWP_CHECK(v.size() >= 2, "Vocabulary::load: '", path, "' has no <eos>/<unk> entries");
  return v;
}

std::unordered_map<std::string, int64_t> count_words(const std::string& path) {
  std::ifstream in = open_text(path, "count_words");
  std::unordered_map<std::string, int64_t> counts;
  std::string line;
  int64_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    for_each_word(line, [&](std::string_view w) { ++counts[std::string(w)]; });
  }
  if (lines) counts[std::string(Vocabulary::kEos)] += lines;
  return counts;
}

std::vector<int64_t> encode_line(std::string_view line, const Vocabulary& vocab) {
  std::vector<int64_t> ids;
  for_each_word(line, [&](std::string_view w) { ids.push_back(vocab.id(w)); });
  return ids;
}

std::vector<int64_t> encode_text(std::string_view text, const Vocabulary& vocab) {
  return encode_line(wikitext_tokenize(text), vocab);
}

std::vector<int64_t> encode_file(const std::string& path, const Vocabulary& vocab) {
  std::ifstream in = open_text(path, "encode_file");
  std::vector<int64_t> ids;
  std::string line;
  while (std::getline(in, line)) {
    for_each_word(line, [&](std::string_view w) { ids.push_back(vocab.id(w)); });
    ids.push_back(Vocabulary::kEosId);
  }
  return ids;
}

std::string split_file(const std::string& dir, std::string_view split) {
  namespace fs = std::filesystem;
  std::string plain = (fs::path(dir) / (std::string(split) + ".tokens")).string();
  std::string wiki = (fs::path(dir) / ("wiki." + std::string(split) + ".tokens")).string();
  std::error_code ec;  // an unreadable folder is "not there" here; opening the file names it
  if (fs::exists(plain, ec)) return plain;
  if (fs::exists(wiki, ec)) return wiki;
  throw Error(cat("split_file: no ", split, " split in '", dir, "': neither '", plain,
                  "' nor '", wiki, "' exists"));
}

LmCorpus load_lm_corpus(const std::string& dir, const VocabOptions& options) {
  LmCorpus c;
  std::string train = split_file(dir, "train"), valid = split_file(dir, "valid"),
              test = split_file(dir, "test");
  c.vocab = Vocabulary::build(count_words(train), options);
  c.train = encode_file(train, c.vocab);
  c.valid = encode_file(valid, c.vocab);
  c.test = encode_file(test, c.vocab);
  return c;
}

LmBatches::LmBatches(const std::vector<int64_t>& tokens, int64_t batch, int64_t steps)
    : batch_(batch), steps_(steps) {
  FWP_CHECK(batch >= 1 && steps >= 1, "LmBatches: batch and steps must be >= 1, got batch=",
            batch, " steps=", steps);
  length_ = static_cast<int64_t>(tokens.size()) / batch;
  FWP_CHECK(length_ >= 2, "LmBatches: ", tokens.size(), " tokens cannot fill ", batch,
            " streams of at least 2 tokens");
  streams_.assign(tokens.begin(), tokens.begin() + batch * length_);
}

int64_t LmBatches::num_segments() const { return (length_ - 1 + steps_ - 1) / steps_; }

LmBatches::Segment LmBatches::segment(int64_t i) const {
  FWP_CHECK(i >= 0 && i < num_segments(), "LmBatches::segment: index ", i, " out of range [0, ",
            num_segments(), ")");
  int64_t start = i * steps_, t_i = std::min(steps_, length_ - 1 - start);
  std::vector<int64_t> x(batch_ * t_i), y(batch_ * t_i);
  for (int64_t b = 0; b < batch_; ++b)
    for (int64_t t = 0; t < t_i; ++t) {
      x[b * t_i + t] = streams_[b * length_ + start + t];
      y[b * t_i + t] = streams_[b * length_ + start + t + 1];
    }
  return {Indices(Shape{batch_, t_i}, std::move(x)), Indices(Shape{batch_, t_i}, std::move(y))};
}

}  // namespace fwp::data
