// make_tiny_corpora DIR: writes the smallest data folders the LM and MT programs accept, laid out
// as scripts/prepare_data.sh lays out data/ (docs/DATA.md), so tests can run the documented
// commands in seconds: DIR/bible-lm/{train,valid,test}.tokens and
// DIR/bible-mt/{train,valid,test}.{es,en,ref} with a joint SentencePiece model spm.{model,vocab}.
// The text is made from a few subjects, verbs and objects, so models have something to learn;
// the LM text has WikiText's "apt @-@ get" splitting, which --generate prompts must reproduce.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "experiments/data/mt_data.h"

namespace fs = std::filesystem;

namespace {

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& l : lines) out << l << "\n";
  FWP_CHECK(out.good(), "make_tiny_corpora: cannot write ", path.string());
}

const std::vector<std::vector<std::string>> kSubjects = {  // English words, Spanish
    {"The dog", "El perro"}, {"The cat", "El gato"}, {"The girl", "La niña"},
    {"The man", "El hombre"}, {"The king", "El rey"}};
const std::vector<std::vector<std::string>> kVerbs = {
    {"eats bread", "come pan"}, {"sleeps", "duerme"}, {"runs a lot", "corre mucho"},
    {"sings", "canta"}, {"sees the sea", "ve el mar"}, {"drinks water", "bebe agua"}};

// Line i of a split: a subject and a verb, cycling differently per split.
std::vector<std::string> sentence(size_t i, size_t offset) {
  const auto& s = kSubjects[(i + offset) % kSubjects.size()];
  const auto& v = kVerbs[(i * 7 + offset) % kVerbs.size()];
  return {s[0] + " " + v[0] + ".", s[1] + " " + v[1] + "."};
}

void make_lm(const fs::path& dir) {
  fs::create_directories(dir);
  auto tokens = [](const std::string& english) {  // "The dog sleeps." -> "The dog sleeps ."
    return english.substr(0, english.size() - 1) + " .";
  };
  for (auto [split, lines, offset] : {std::tuple{"train", size_t(240), size_t(0)},
                                      std::tuple{"valid", size_t(40), size_t(1)},
                                      std::tuple{"test", size_t(40), size_t(2)}}) {
    std::vector<std::string> out;
    for (size_t i = 0; i < lines; ++i) {
      out.push_back(tokens(sentence(i, offset)[0]));
      if (i % 5 == 0) out.push_back("The apt @-@ get command installs the package .");
    }
    write_lines(dir / (std::string(split) + ".tokens"), out);
  }
}

void make_mt(const fs::path& dir) {
  fs::create_directories(dir);
  std::vector<std::string> all;
  for (auto [split, lines, offset] : {std::tuple{"train", size_t(60), size_t(0)},
                                      std::tuple{"valid", size_t(6), size_t(1)},
                                      std::tuple{"test", size_t(6), size_t(2)}}) {
    std::vector<std::string> es, en, ref;
    for (size_t i = 0; i < lines; ++i) {
      const std::vector<std::string> pair = sentence(i, offset);
      en.push_back(pair[0]);
      es.push_back(pair[1]);
      ref.push_back(std::string(split) + "." + std::to_string(i + 1));
    }
    write_lines(dir / (std::string(split) + ".es"), es);
    write_lines(dir / (std::string(split) + ".en"), en);
    write_lines(dir / (std::string(split) + ".ref"), ref);
    if (std::string(split) == "train") {
      all = es;
      all.insert(all.end(), en.begin(), en.end());
    }
  }
  fwp::data::SubwordOptions o;
  o.vocab_size = 60;
  o.num_threads = 1;
  fwp::data::train_subword_model(all, (dir / "spm").string(), o);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_tiny_corpora DIR   (writes DIR/bible-lm and DIR/bible-mt)" << std::endl;
    return 2;
  }
  try {
    make_lm(fs::path(argv[1]) / "bible-lm");
    make_mt(fs::path(argv[1]) / "bible-mt");
  } catch (const fwp::Error& e) {
    std::cerr << "make_tiny_corpora: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
