// The Bible corpora: the 66 books, verse references, the book split, and the parser for what
// `diatheke -f internal -k 'Gen 1:1-Rev 22:21'` prints (one verse per line,
// "<preverse markup><Book> <chapter>:<verse>: <OSIS body>", then "(<module>)").
// The one idea: everything is decided per BOOK (the split) or per verse reference; the text
// itself is cleaned by osis_to_text. Two quirks of diatheke 1.9 handled here:
//  * it repeats a verse's pre-verse heading in front of every following verse until the next
//    heading (a psalm title appears before every verse up to Revelation): a pre-verse block is
//    the verse's own only if it differs from the previous verse's block;
//  * modules with more books (engWEB2015eb has the deuterocanon) print them inside the range:
//    verses of books outside the 66 are skipped.
#pragma once
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "experiments/data/osis_text.h"

namespace fwp::data {

struct BookInfo {
  const char* osis;  // OSIS id: "Gen", "1Sam", "Rev"
  const char* name;  // as diatheke prints it in the English locale: "I Samuel"
};
constexpr int kNumBooks = 66;
const BookInfo& book_info(int book);     // book in [0, 66), canonical order Gen..Rev
int find_book(std::string_view name);    // diatheke name -> index, -1 if not one of the 66

// The split is by book, so no verse of a valid/test book is ever seen in training.
// valid: Judges, John; test: Joshua, Acts; train: the other 62 books. Both held-out sets pair
// an Old Testament narrative with a New Testament one that has no close parallel in train
// (unlike Mark or Chronicles, which retell Matthew/Luke and Samuel/Kings).
enum class Split { train, valid, test };
Split split_of_book(int book);
const char* split_name(Split split);  // "train", "valid", "test"

// The items of one split (Verse, VersePair: anything with a .ref), in their order.
template <typename T>
std::vector<T> select_split(const std::vector<T>& items, Split split) {
  std::vector<T> out;
  for (const T& x : items)
    if (split_of_book(x.ref.book) == split) out.push_back(x);
  return out;
}

struct VerseRef {
  int book = 0;  // index into the 66 books
  int chapter = 0;
  int verse = 0;
  auto operator<=>(const VerseRef&) const = default;
  std::string str() const;  // OSIS style: "Gen.1.1"
};

struct Verse {
  VerseRef ref;
  std::string text;  // cleaned plain text, never empty
};

struct ParseOptions {
  OsisTextOptions text;
  bool canonical_titles = true;  // prepend a verse's own canonical title (psalm superscription)
};

struct ParseStats {
  int64_t lines = 0;             // verse lines read
  int64_t verses = 0;            // non-empty verses of the 66 books returned
  int64_t empty = 0;             // verses of the 66 books with no text (not returned)
  int64_t other_books = 0;       // verses of books outside the 66 (skipped)
  int64_t titles = 0;            // canonical titles prepended
};

// Parses diatheke's internal-format output of a whole module. Throws fwp::Error naming the line
// number for a line that has no verse reference and is not the "(module)" trailer, and for a
// reference that goes backwards (a sign that the output is not one ordered range).
std::vector<Verse> parse_diatheke(std::string_view output, const ParseOptions& options,
                                  ParseStats* stats = nullptr);

// RV1909 prints the first word of every chapter in capitals as a drop cap ("EN el principio",
// "Y JEHOVÁ dijo", "¡OH Jehová", and in 13 chapters two words: "DE OCHO años"). In verse 1 of
// each chapter, the first run of words of two or more letters that are all upper case is
// re-cased: capitalised at the start of a sentence, otherwise in the word's most frequent
// spelling elsewhere in the same text (so "Y Jehová" but "Y fueron"). A run's first word that
// is followed by "." is a heading label and stays ("ALEPH. Bienaventurados", Psalm 119).
// Returns the number of words changed.
int64_t truecase_drop_caps(std::vector<Verse>& verses);

}  // namespace fwp::data
