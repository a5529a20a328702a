// Fuzz target: every text and corpus loader on arbitrary bytes. The first byte picks the loader:
// the vocabulary file, token files (word counts, encoding), diatheke's verse output, OSIS markup,
// WikiText tokenisation, parallel text, the programs' CSV tables and integer lists.
#include <string>

#include "core/error.h"
#include "experiments/common/run_utils.h"
#include "experiments/data/bible.h"
#include "experiments/data/lm_data.h"
#include "experiments/data/mt_data.h"
#include "experiments/data/osis_text.h"
#include "experiments/data/wikitext.h"
#include "tests/fuzz/fuzz_input.h"

using namespace fwp::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static fwp_fuzz::MemFile file("text"), other("other");
  const uint8_t which = data[0] % 8;
  ++data, --size;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    switch (which) {
      case 0: {
        Vocabulary v = Vocabulary::load(file.hold(data, size));
        (void)encode_text("in the beginning", v);
        break;
      }
      case 1: {
        const std::string& path = file.hold(data, size);
        Vocabulary v = Vocabulary::build(count_words(path), {1, 0});
        (void)encode_file(path, v);
        break;
      }
      case 2: {
        ParseStats st;
        ParseOptions o;
        o.text.spanish_enclitics = size % 2;
        std::vector<Verse> verses = parse_diatheke(text, o, &st);
        (void)truecase_drop_caps(verses);
        break;
      }
      case 3:
        (void)osis_to_text(text);
        (void)canonical_titles(text);
        break;
      case 4:
        (void)wikitext_tokenize(text);
        break;
      case 5: {  // the same bytes as both sides: line counts agree unless the loader errs
        const size_t half = size / 2;
        (void)read_parallel(file.hold(data, half), other.hold(data + half, size - half));
        break;
      }
      case 6: {
        fwp::experiments::CsvTable t({"step", "eval_loss"});
        t.load(file.hold(data, size));
        break;
      }
      case 7:
        (void)fwp::experiments::parse_int_list(text, 2, 10000);
        break;
    }
  } catch (const fwp::Error&) {
  }
  return 0;
}
