// fwp-prepare-data: turns diatheke's raw output of the two Bibles into the corpora of the LM
// and MT experiments (scripts/prepare_data.sh runs diatheke and then this program).
//   <out>/bible-text/<module>.tsv        cleaned verses: "Gen.1.1<TAB>text"
//   <out>/bible-lm/{train,valid,test}.tokens   English (WEB), one verse per line, WikiText tokens
//   <out>/bible-mt/{train,valid,test}.{es,en,ref}  verse pairs Spanish -> English + references
//   <out>/bible-mt/dropped.ref            references of the pairs the alignment check removed
//   <out>/bible-mt/spm.{model,vocab}      joint SentencePiece model trained on train.es + train.en
// The split is by book (bible.h); every number printed here is documented in docs/DATA.md.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "experiments/common/cli_checks.h"
#include "experiments/data/align.h"
#include "experiments/data/bible.h"
#include "experiments/data/lm_data.h"
#include "experiments/data/mt_data.h"
#include "experiments/data/wikitext.h"

using namespace fwp::data;
namespace fs = std::filesystem;

namespace {

struct Config {
  std::string web = "data/raw/engWEB2015eb.osis.txt";  // diatheke -f internal output
  std::string rv = "data/raw/spaRV1909eb.osis.txt";
  std::string out = "data";
  int vocab_size = 8000;
  uint32_t seed = 1;
};

// Every output file is built in memory and written with write_file_atomic, which checks every
// write (a full disk is an fwp::Error naming the file, never a truncated corpus).
// A folder it had to create is removed again if a later write fails (experiments::make_dirs).
void write_out(const fs::path& path, const std::string& text) {
  fwp::experiments::make_dirs(path.parent_path().string());
  fwp::write_file_atomic(path.string(), text);
}

std::vector<Verse> load_module(const std::string& path, bool spanish, const char* name) {
  ParseOptions options;
  options.text.spanish_enclitics = spanish;
  ParseStats st;
  std::vector<Verse> verses = parse_diatheke(fwp::read_file(path), options, &st);
  std::cout << name << ": " << st.lines << " verse lines, " << st.verses << " verses with text, "
            << st.empty << " empty, " << st.other_books << " outside the 66 books skipped, "
            << st.titles << " canonical titles kept\n";
  if (spanish) std::cout << name << ": " << truecase_drop_caps(verses) << " drop caps re-cased\n";
  return verses;
}

void write_text(const fs::path& path, const std::vector<Verse>& verses) {
  std::string out;
  for (const Verse& v : verses) out += v.ref.str() + '\t' + v.text + '\n';
  write_out(path, out);
}

void write_lm(const fs::path& dir, const std::vector<Verse>& web) {
  for (Split split : {Split::train, Split::valid, Split::test}) {
    std::string out;
    int64_t lines = 0, tokens = 0;
    for (const Verse& v : select_split(web, split)) {
      std::string line = wikitext_tokenize(v.text);
      out += line + '\n';
      ++lines;
      if (!line.empty()) tokens += 1 + std::count(line.begin(), line.end(), ' ');
    }
    write_out(dir / (std::string(split_name(split)) + ".tokens"), out);
    std::cout << "bible-lm " << split_name(split) << ": " << lines << " lines, " << tokens
              << " tokens (+" << lines << " <eos>)\n";
  }
  Vocabulary vocab = Vocabulary::build(count_words((dir / "train.tokens").string()));
  std::cout << "bible-lm train vocabulary: " << vocab.size() << " ids (<eos>, <unk> and "
            << vocab.size() - 2 << " words)\n";
}

void write_mt(const fs::path& dir, const std::vector<Verse>& rv, const std::vector<Verse>& web,
              const Config& cfg) {
  AlignStats st;
  std::vector<VersePair> pairs = align_verses(rv, web, {}, &st);
  std::cout << "bible-mt: " << st.common << " references with text in both, " << st.breaks
            << " chapters with a versification break, " << st.dropped.size()
            << " pairs dropped by the length check (c = " << st.length_ratio
            << ", s2 = " << st.length_variance << "), " << st.kept << " pairs kept\n";
  {
    std::string out;
    for (const VerseRef& r : st.dropped) out += r.str() + '\n';
    write_out(dir / "dropped.ref", out);
  }
  std::vector<std::string> spm_train;
  for (Split split : {Split::train, Split::valid, Split::test}) {
    std::string name = split_name(split);
    std::string es, en, ref;
    int64_t n = 0;
    for (const VersePair& p : select_split(pairs, split)) {
      es += p.src + '\n';
      en += p.tgt + '\n';
      ref += p.ref.str() + '\n';
      ++n;
      if (split == Split::train) spm_train.push_back(p.src), spm_train.push_back(p.tgt);
    }
    write_out(dir / (name + ".es"), es);
    write_out(dir / (name + ".en"), en);
    write_out(dir / (name + ".ref"), ref);
    std::cout << "bible-mt " << name << ": " << n << " pairs\n";
  }
  SubwordOptions so;
  so.vocab_size = cfg.vocab_size;
  so.seed = cfg.seed;
  train_subword_model(spm_train, (dir / "spm").string(), so);
  SubwordTokenizer tok((dir / "spm.model").string());
  for (std::string lang : {"es", "en"}) {
    std::vector<std::string> lines = read_lines((dir / ("train." + lang)).string());
    int64_t pieces = 0;
    for (const std::string& l : lines) pieces += static_cast<int64_t>(tok.encode(l).size());
    std::cout << "bible-mt spm: " << tok.size() << " pieces; train." << lang << " "
              << pieces << " pieces (" << double(pieces) / double(lines.size())
              << " per verse)\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"fwp-prepare-data: Bible LM and MT corpora from diatheke's internal-format output"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  fwp::experiments::one_line_errors(app, "fwp-prepare-data");
  app.add_option("--web", cfg.web, "World English Bible, diatheke -f internal output")
      ->capture_default_str();
  app.add_option("--rv", cfg.rv, "Reina-Valera 1909, diatheke -f internal output")
      ->capture_default_str();
  app.add_option("--out", cfg.out, "output folder")->capture_default_str();
  app.add_option("--vocab-size", cfg.vocab_size, "SentencePiece pieces")->capture_default_str()->check(fwp::experiments::count_in(16, 1 << 20));
  app.add_option("--seed", cfg.seed, "SentencePiece random seed")->capture_default_str()->check(fwp::experiments::count_in(0, 4294967295LL));
  return fwp::experiments::guarded_main("fwp-prepare-data", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  std::cout << "fwp-prepare-data: web=" << cfg.web << " rv=" << cfg.rv << " out=" << cfg.out
            << " vocab-size=" << cfg.vocab_size << " seed=" << cfg.seed << "\n";
  std::vector<Verse> web = load_module(cfg.web, false, "engWEB2015eb");
  std::vector<Verse> rv = load_module(cfg.rv, true, "spaRV1909eb");
  fs::path out(cfg.out);
  write_text(out / "bible-text" / "engWEB2015eb.tsv", web);
  write_text(out / "bible-text" / "spaRV1909eb.tsv", rv);
  write_lm(out / "bible-lm", web);
  write_mt(out / "bible-mt", rv, web, cfg);
  return 0;
  });
}
