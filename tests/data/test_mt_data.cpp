// Translation data: a tiny SentencePiece model trained in a temporary folder (well under a
// second), the encode/decode round trip, the fixed special ids, padded batches, and file errors.
#include "tests/catch.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include "core/error.h"
#include "experiments/data/mt_data.h"

using namespace fwp::data;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSentences = {
    "En el principio crió Dios los cielos y la tierra.",
    "In the beginning, God created the heavens and the earth.",
    "Y la tierra estaba desordenada y vacía.",
    "The earth was formless and empty.",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "God said, “Let there be light,” and there was light.",
    "Y vió Dios que la luz era buena.",
    "God saw the light, and saw that it was good.",
    "Y llamó Dios á la luz Día, y á las tinieblas llamó Noche.",
    "God called the light “day”, and the darkness he called “night”.",
};

// The tiny model, trained once per process in a temporary folder that is removed at exit.
struct TinyModel {
  fs::path dir = fs::temp_directory_path() / ("fwp_test_spm_" + std::to_string(::getpid()));
  std::string model = (dir / "tiny.model").string();
  TinyModel() {
    fs::create_directories(dir);
    SubwordOptions o;
    o.vocab_size = 60;
    o.num_threads = 1;
    train_subword_model(kSentences, (dir / "tiny").string(), o);
  }
  ~TinyModel() { fs::remove_all(dir); }
};

const std::string& tiny_model() {
  static TinyModel m;
  return m.model;
}

}  // namespace

TEST_CASE("subword tokenizer round-trips text and keeps the special ids", "[data][mt]") {
  SubwordTokenizer tok(tiny_model());
  CHECK(tok.size() > 4);
  CHECK(tok.size() <= 60);
  for (const std::string& s : kSentences) {
    std::vector<int64_t> ids = tok.encode(s);
    REQUIRE_FALSE(ids.empty());
    for (int64_t id : ids) {
      CHECK(id != SubwordTokenizer::kPad);
      CHECK(id != SubwordTokenizer::kBos);
      CHECK(id != SubwordTokenizer::kEos);
      CHECK(id != SubwordTokenizer::kUnk);  // every character was seen in training
    }
    CHECK(tok.decode(ids) == s);
    CHECK(tok.pieces(s).size() == ids.size());
  }
  // New text made of known characters also round-trips; bos/eos/pad are skipped by decode.
  std::vector<int64_t> ids = tok.encode("Dios vió la tierra.");
  CHECK(tok.decode(ids) == "Dios vió la tierra.");
  ids.insert(ids.begin(), SubwordTokenizer::kBos);
  ids.push_back(SubwordTokenizer::kEos);
  ids.push_back(SubwordTokenizer::kPad);
  CHECK(tok.decode(ids) == "Dios vió la tierra.");
  // A character never seen in training is <unk>.
  std::vector<int64_t> q = tok.encode("Q");
  CHECK(std::count(q.begin(), q.end(), SubwordTokenizer::kUnk) == 1);
  CHECK_THROWS_WITH(tok.decode({tok.size()}), HasSubstr("out of range"));
}

TEST_CASE("subword model training is reproducible", "[data][mt]") {
  fs::path dir = fs::path(tiny_model()).parent_path();
  SubwordOptions o;
  o.vocab_size = 60;
  o.num_threads = 1;
  train_subword_model(kSentences, (dir / "again").string(), o);
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CHECK(bytes(dir / "again.model") == bytes(tiny_model()));
  CHECK_THROWS_WITH(train_subword_model({}, (dir / "empty").string()), HasSubstr("no sentences"));
  CHECK_THROWS_WITH(SubwordTokenizer((dir / "missing.model").string()),
                    HasSubstr("cannot load") && HasSubstr("missing.model"));
}

TEST_CASE("make_batches pads by length with bos/eos in place", "[data][mt]") {
  // Lengths (src with eos, tgt without): example 0: 3, 2; 1: 5, 4; 2: 2, 1; 3: 4, 5.
  std::vector<MtExample> ex = {
      {{10, 11, 3}, {20, 21}, 0},
      {{10, 11, 12, 13, 3}, {20, 21, 22, 23}, 1},
      {{10, 3}, {20}, 2},
      {{10, 11, 12, 3}, {20, 21, 22, 23, 24}, 3},
  };
  // Sorted by source length: 2, 0, 3, 1. Widths max(S, T+1): 2, 3, 6, 5. With 12 tokens:
  // [2, 0] (2 x 3 = 6), then 3 would make 3 x 6 = 18: [3, 1] (2 x 6 = 12).
  std::vector<MtBatch> b = make_batches(ex, {.max_tokens = 12});
  REQUIRE(b.size() == 2);
  CHECK(b[0].index == std::vector<int64_t>{2, 0});
  CHECK(b[0].src.shape == fwp::Shape{2, 3});
  CHECK(b[0].src.values == std::vector<int64_t>{10, 3, 0, 10, 11, 3});
  CHECK(b[0].tgt_in.shape == fwp::Shape{2, 3});
  CHECK(b[0].tgt_in.values == std::vector<int64_t>{2, 20, 0, 2, 20, 21});
  CHECK(b[0].tgt_out.values == std::vector<int64_t>{20, 3, 0, 20, 21, 3});
  CHECK(b[0].src_lengths == std::vector<int64_t>{2, 3});
  CHECK(b[0].tgt_lengths == std::vector<int64_t>{2, 3});
  CHECK(b[1].index == std::vector<int64_t>{3, 1});
  CHECK(b[1].src.shape == fwp::Shape{2, 5});
  CHECK(b[1].tgt_out.shape == fwp::Shape{2, 6});
  CHECK(b[1].tgt_out.values ==
        std::vector<int64_t>{20, 21, 22, 23, 24, 3, 20, 21, 22, 23, 3, 0});
  // A pair wider than max_tokens gets a batch of its own.
  CHECK(make_batches(ex, {.max_tokens = 1}).size() == 4);
  // Shuffling permutes whole batches, reproducibly.
  auto order = [](const std::vector<MtBatch>& bs) {
    std::vector<int64_t> o;
    for (const MtBatch& x : bs) o.push_back(x.index.front());
    return o;
  };
  auto s1 = make_batches(ex, {.max_tokens = 1, .shuffle = true, .seed = 7});
  auto s2 = make_batches(ex, {.max_tokens = 1, .shuffle = true, .seed = 7});
  CHECK(order(s1) == order(s2));
  std::vector<int64_t> sorted = order(s1);
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int64_t>{0, 1, 2, 3});
  CHECK_THROWS_WITH(make_batches(ex, {.max_tokens = 0}), HasSubstr("max_tokens"));
}

TEST_CASE("parallel files must have one line per pair", "[data][mt]") {
  fs::path dir = fs::path(tiny_model()).parent_path();
  std::ofstream(dir / "a.es") << "uno\ndos\n";
  std::ofstream(dir / "a.en") << "one\n";
  CHECK_THROWS_WITH(read_parallel((dir / "a.es").string(), (dir / "a.en").string()),
                    HasSubstr("a.es' has 2 lines but") && HasSubstr("a.en' has 1"));
  std::ofstream(dir / "a.en") << "one\ntwo\n";
  ParallelText t = read_parallel((dir / "a.es").string(), (dir / "a.en").string());
  CHECK(t.tgt == std::vector<std::string>{"one", "two"});
  SubwordTokenizer tok(tiny_model());
  std::vector<MtExample> ex = encode_parallel(t, tok);
  REQUIRE(ex.size() == 2);
  CHECK(ex[1].index == 1);
  CHECK(ex[1].src.back() == SubwordTokenizer::kEos);
  CHECK(ex[1].tgt == tok.encode("two"));
  CHECK_THROWS_WITH(read_lines((dir / "none.es").string()),
                    HasSubstr("cannot open") && HasSubstr("none.es"));
}
