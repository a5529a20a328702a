// WikiText-format LM data: vocabulary cut-off, <unk>/<eos>, the vocabulary file, the split file
// names, and the order of the carry-over batches. Files go to a fresh temporary folder.
#include "tests/catch.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/error.h"
#include "experiments/data/lm_data.h"

using namespace fwp::data;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

namespace {

// A fresh empty folder under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("fwp_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return (path / name).string();
  }
};

// train: "the" x4, "cat" x2, "sat" x2, "a" x1, "<unk>" x1, 3 lines (one empty).
constexpr const char* kTrain = "the cat sat\n\n the cat <unk> the sat the a \n";

}  // namespace

TEST_CASE("vocabulary orders words by count and maps the rest to <unk>", "[data][lm]") {
  TempDir dir("vocab");
  auto counts = count_words(dir.file("train.tokens", kTrain));
  CHECK(counts.at("<eos>") == 3);  // one per line, the empty line too
  Vocabulary all = Vocabulary::build(counts);
  REQUIRE(all.size() == 6);  // <eos> <unk> the cat sat a
  CHECK(all.word(0) == "<eos>");
  CHECK(all.word(1) == "<unk>");
  CHECK(all.word(2) == "the");
  CHECK(all.word(3) == "cat");  // cat and sat tie at 2: byte order
  CHECK(all.word(4) == "sat");
  CHECK(all.word(5) == "a");
  CHECK(all.count(1) == 1);  // the literal <unk> of the text

  Vocabulary cut = Vocabulary::build(counts, {.min_count = 2});
  CHECK(cut.size() == 5);
  CHECK(cut.id("a") == Vocabulary::kUnkId);
  CHECK(cut.id("never seen") == Vocabulary::kUnkId);
  CHECK(cut.count(Vocabulary::kUnkId) == 2);  // the literal <unk> and "a"

  Vocabulary small = Vocabulary::build(counts, {.max_size = 3});
  CHECK(small.size() == 3);
  CHECK(small.word(2) == "the");
  CHECK(small.count(Vocabulary::kUnkId) == 1 + 2 + 2 + 1);

  CHECK_THROWS_WITH(Vocabulary::build(counts, {.max_size = 1}), HasSubstr("max_size"));
  CHECK_THROWS_WITH(all.word(6), HasSubstr("id 6 out of range [0, 6)"));
}

TEST_CASE("encode_file ends every line with <eos>", "[data][lm]") {
  TempDir dir("encode");
  std::string path = dir.file("train.tokens", kTrain);
  Vocabulary v = Vocabulary::build(count_words(path), {.min_count = 2});
  std::vector<int64_t> ids = encode_file(path, v);
  const int64_t the = v.id("the"), cat = v.id("cat"), sat = v.id("sat"), unk = 1, eos = 0;
  CHECK(ids == std::vector<int64_t>{the, cat, sat, eos, eos, the, cat, unk, the, sat, the, unk,
                                    eos});
  CHECK(encode_line(" the  dog\t", v) == std::vector<int64_t>{the, unk});
  CHECK_THROWS_WITH(encode_file((dir.path / "missing.tokens").string(), v),
                    HasSubstr("cannot open") && HasSubstr("missing.tokens"));
}

TEST_CASE("encode_text tokenises a prompt as the corpus was tokenised", "[data][lm]") {
  Vocabulary v = Vocabulary::build({{"The", 2}, {"apt", 2}, {"@-@", 2}, {"get", 2}, {"command", 2},
                                    {"God", 2}, {"'s", 2}, {",", 2}});
  const std::vector<int64_t> ids = encode_text("The apt-get command, God’s", v);
  CHECK(ids == std::vector<int64_t>{v.id("The"), v.id("apt"), v.id("@-@"), v.id("get"),
                                    v.id("command"), v.id(","), v.id("God"), v.id("'s")});
  for (int64_t id : ids) CHECK(id != Vocabulary::kUnkId);
  CHECK(encode_line("The apt-get command", v)[1] == Vocabulary::kUnkId);  // what it used to do
}

TEST_CASE("vocabulary files round-trip and corrupt ones are rejected", "[data][lm]") {
  TempDir dir("vocabfile");
  Vocabulary v = Vocabulary::build(count_words(dir.file("t", kTrain)));
  std::string path = (dir.path / "vocab.txt").string();
  v.save(path);
  Vocabulary back = Vocabulary::load(path);
  REQUIRE(back.size() == v.size());
  for (int64_t i = 0; i < v.size(); ++i) {
    CHECK(back.word(i) == v.word(i));
    CHECK(back.count(i) == v.count(i));
    CHECK(back.id(v.word(i)) == i);
  }
  CHECK_THROWS_WITH(Vocabulary::load(dir.file("a", "the\t4\n")),
                    HasSubstr("not an fwp vocabulary"));
  CHECK_THROWS_WITH(Vocabulary::load(dir.file("b", "fwp-vocab 1\n<eos>\t3\n<unk>\tx\n")),
                    HasSubstr("line 3") && HasSubstr("expected 'word<TAB>count'"));
  CHECK_THROWS_WITH(Vocabulary::load(dir.file("c", "fwp-vocab 1\n<unk>\t3\n<eos>\t1\n")),
                    HasSubstr("line 2") && HasSubstr("id 0 must be <eos>"));
  CHECK_THROWS_WITH(
      Vocabulary::load(dir.file("d", "fwp-vocab 1\n<eos>\t3\n<unk>\t1\nthe\t4\nthe\t2\n")),
      HasSubstr("line 5") && HasSubstr("duplicate word 'the'"));
  CHECK_THROWS_WITH(Vocabulary::load(dir.file("e", "fwp-vocab 1\n")), HasSubstr("no <eos>"));
  CHECK_THROWS_WITH(Vocabulary::load((dir.path / "nope.vocab").string()),
                    HasSubstr("cannot open") && HasSubstr("nope.vocab"));
}

TEST_CASE("load_lm_corpus reads both file namings", "[data][lm]") {
  TempDir dir("corpus");
  dir.file("wiki.train.tokens", kTrain);
  dir.file("wiki.valid.tokens", " the dog \n");
  dir.file("wiki.test.tokens", "cat\n");
  LmCorpus c = load_lm_corpus(dir.path.string(), {.min_count = 2});
  CHECK(c.train.size() == 13);
  CHECK(c.valid == std::vector<int64_t>{c.vocab.id("the"), 1, 0});
  CHECK(c.test == std::vector<int64_t>{c.vocab.id("cat"), 0});
  dir.file("valid.tokens", "sat\n");  // the plain name wins
  CHECK(load_lm_corpus(dir.path.string()).valid.front() == c.vocab.id("sat"));
  fs::remove(dir.path / "wiki.test.tokens");
  CHECK_THROWS_WITH(load_lm_corpus(dir.path.string()),
                    HasSubstr("no test split") && HasSubstr("test.tokens") &&
                        HasSubstr("wiki.test.tokens"));
}

TEST_CASE("LmBatches cuts B streams and reads segments in order", "[data][lm]") {
  std::vector<int64_t> tokens(23);
  for (int64_t i = 0; i < 23; ++i) tokens[i] = 100 + i;
  // B = 2: L = 11, stream 0 = 100..110, stream 1 = 111..121 (122 is dropped); T = 4:
  // ceil((11 - 1) / 4) = 3 segments, the last one of 10 - 8 = 2 steps.
  LmBatches batches(tokens, 2, 4);
  CHECK(batches.stream_length() == 11);
  REQUIRE(batches.num_segments() == 3);
  auto s0 = batches.segment(0);
  CHECK(s0.input.shape == fwp::Shape{2, 4});
  CHECK(s0.input.values == std::vector<int64_t>{100, 101, 102, 103, 111, 112, 113, 114});
  CHECK(s0.target.values == std::vector<int64_t>{101, 102, 103, 104, 112, 113, 114, 115});
  auto s1 = batches.segment(1);  // continues where segment 0 stopped, stream by stream
  CHECK(s1.input.values == std::vector<int64_t>{104, 105, 106, 107, 115, 116, 117, 118});
  auto s2 = batches.segment(2);
  CHECK(s2.input.shape == fwp::Shape{2, 2});
  CHECK(s2.input.values == std::vector<int64_t>{108, 109, 119, 120});
  CHECK(s2.target.values == std::vector<int64_t>{109, 110, 120, 121});
  CHECK_THROWS_WITH(batches.segment(3), HasSubstr("index 3 out of range [0, 3)"));
  CHECK_THROWS_WITH(LmBatches(tokens, 12, 4), HasSubstr("23 tokens cannot fill 12 streams"));
  CHECK_THROWS_WITH(LmBatches(tokens, 2, 0), HasSubstr("steps=0"));
}
