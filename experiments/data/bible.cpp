// Book table, book split, diatheke output parser and the RV1909 drop-cap re-casing.
#include "experiments/data/bible.h"

#include <array>
#include <charconv>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "experiments/data/utf8.h"

namespace fwp::data {
namespace {

constexpr std::array<BookInfo, kNumBooks> kBooks = {{
    {"Gen", "Genesis"}, {"Exod", "Exodus"}, {"Lev", "Leviticus"}, {"Num", "Numbers"},
    {"Deut", "Deuteronomy"}, {"Josh", "Joshua"}, {"Judg", "Judges"}, {"Ruth", "Ruth"},
    {"1Sam", "I Samuel"}, {"2Sam", "II Samuel"}, {"1Kgs", "I Kings"}, {"2Kgs", "II Kings"},
    {"1Chr", "I Chronicles"}, {"2Chr", "II Chronicles"}, {"Ezra", "Ezra"},
    {"Neh", "Nehemiah"}, {"Esth", "Esther"}, {"Job", "Job"}, {"Ps", "Psalms"},
    {"Prov", "Proverbs"}, {"Eccl", "Ecclesiastes"}, {"Song", "Song of Solomon"},
    {"Isa", "Isaiah"}, {"Jer", "Jeremiah"}, {"Lam", "Lamentations"}, {"Ezek", "Ezekiel"},
    {"Dan", "Daniel"}, {"Hos", "Hosea"}, {"Joel", "Joel"}, {"Amos", "Amos"},
    {"Obad", "Obadiah"}, {"Jonah", "Jonah"}, {"Mic", "Micah"}, {"Nah", "Nahum"},
    {"Hab", "Habakkuk"}, {"Zeph", "Zephaniah"}, {"Hag", "Haggai"}, {"Zech", "Zechariah"},
    {"Mal", "Malachi"}, {"Matt", "Matthew"}, {"Mark", "Mark"}, {"Luke", "Luke"},
    {"John", "John"}, {"Acts", "Acts"}, {"Rom", "Romans"}, {"1Cor", "I Corinthians"},
    {"2Cor", "II Corinthians"}, {"Gal", "Galatians"}, {"Eph", "Ephesians"},
    {"Phil", "Philippians"}, {"Col", "Colossians"}, {"1Thess", "I Thessalonians"},
    {"2Thess", "II Thessalonians"}, {"1Tim", "I Timothy"}, {"2Tim", "II Timothy"},
    {"Titus", "Titus"}, {"Phlm", "Philemon"}, {"Heb", "Hebrews"}, {"Jas", "James"},
    {"1Pet", "I Peter"}, {"2Pet", "II Peter"}, {"1John", "I John"}, {"2John", "II John"},
    {"3John", "III John"}, {"Jude", "Jude"}, {"Rev", "Revelation of John"},
}};

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// A verse reference "<Book> <c>:<v>: " found in a line.
struct RefMatch {
  size_t name_begin = 0;  // where the book name starts (the pre-verse markup ends)
  size_t body_begin = 0;  // just after ": "
  std::string_view name;
  int chapter = 0, verse = 0;
};

// Finds the first "<Name> <digits>:<digits>: " whose name runs back to a '>' or the line start.
bool find_reference(std::string_view line, RefMatch& m) {
  for (size_t p = line.find(": "); p != std::string_view::npos; p = line.find(": ", p + 1)) {
    size_t a = p;
    while (a > 0 && is_ascii_digit(line[a - 1])) --a;
    if (a == p || a == 0 || line[a - 1] != ':') continue;
    size_t b = a - 1;
    while (b > 0 && is_ascii_digit(line[b - 1])) --b;
    if (b == a - 1 || b == 0 || line[b - 1] != ' ') continue;
    size_t gt = line.rfind('>', b - 1);
    size_t start = gt == std::string_view::npos ? 0 : gt + 1;
    while (start < b - 1 && line[start] == ' ') ++start;
    if (start >= b - 1) continue;
    m.name_begin = start;
    m.name = line.substr(start, b - 1 - start);
    // chapter and verse: digits that must fit an int (a corrupt "1:99999999999" is an error)
    auto number = [&](size_t from, size_t to) {
      int v = 0;
      auto r = std::from_chars(line.data() + from, line.data() + to, v);
      FWP_CHECK(r.ec == std::errc() && r.ptr == line.data() + to, "parse_diatheke: the reference '",
                line.substr(start, p - start), "' has a chapter or verse number out of range");
      return v;
    };
    m.chapter = number(b, a - 1);
    m.verse = number(a, p);
    m.body_begin = p + 2;
    return true;
  }
  return false;
}

bool is_trailer(std::string_view line) {
  return line.size() > 2 && line.front() == '(' && line.back() == ')' &&
         line.find(' ') == std::string_view::npos;
}

}  // namespace

const BookInfo& book_info(int book) {
  FWP_CHECK(book >= 0 && book < kNumBooks, "book_info: book index must be in [0, 66), got ", book);
  return kBooks[book];
}

int find_book(std::string_view name) {
  for (int b = 0; b < kNumBooks; ++b)
    if (name == kBooks[b].name) return b;
  return -1;
}

Split split_of_book(int book) {
  std::string_view osis = book_info(book).osis;
  if (osis == "Judg" || osis == "John") return Split::valid;
  if (osis == "Josh" || osis == "Acts") return Split::test;
  return Split::train;
}

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
  }
  return "?";
}

std::string VerseRef::str() const {
  return cat(book_info(book).osis, ".", chapter, ".", verse);
}

std::vector<Verse> parse_diatheke(std::string_view output, const ParseOptions& options,
                                  ParseStats* stats) {
  ParseStats st;
  std::vector<Verse> verses;
  std::string_view previous_preverse;
  VerseRef last{-1, 0, 0};
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t nl = output.find('\n', pos);
    if (nl == std::string_view::npos) nl = output.size();
    std::string_view line = output.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty() || is_trailer(line)) continue;
    RefMatch m;
    bool found = false;
    try {
      found = find_reference(line, m);
    } catch (const Error& e) {
      throw Error(cat(e.what(), " (line ", line_no, ")"));
    }
    FWP_CHECK(found, "parse_diatheke: line ", line_no,
              " has no verse reference '<Book> <chapter>:<verse>: ': '", line.substr(0, 80), "'");
    ++st.lines;
    std::string_view preverse = line.substr(0, m.name_begin);
    bool own_preverse = preverse != previous_preverse;
    previous_preverse = preverse;
    int book = find_book(m.name);
    if (book < 0) {
      ++st.other_books;
      continue;
    }
    VerseRef ref{book, m.chapter, m.verse};
    FWP_CHECK(last < ref, "parse_diatheke: line ", line_no, ": reference ", ref.str(),
              " does not follow ", last.book < 0 ? std::string("the start") : last.str());
    last = ref;
    std::string text = osis_to_text(line.substr(m.body_begin), options.text);
    if (options.canonical_titles && own_preverse) {
      std::string title = canonical_titles(preverse, options.text);
      if (!title.empty()) {
        ++st.titles;
        text = text.empty() ? title : title + " " + text;
      }
    }
    if (text.empty()) {
      ++st.empty;
      continue;
    }
    verses.push_back({ref, std::move(text)});
  }
  st.verses = static_cast<int64_t>(verses.size());
  if (stats) *stats = st;
  return verses;
}

namespace {

struct Word {
  size_t begin, end;  // byte range in the verse text
};

std::vector<Word> words_of(std::string_view s) {
  std::vector<Word> words;
  size_t i = 0;
  while (i < s.size()) {
    CodePoint cp = decode_at(s, i);
    if (!is_letter(cp.value)) {
      i += cp.length;
      continue;
    }
    size_t begin = i;
    while (i < s.size() && is_letter(decode_at(s, i).value)) i += decode_at(s, i).length;
    words.push_back({begin, i});
  }
  return words;
}

// Two or more letters, all upper case.
bool is_shouted(std::string_view w) {
  int letters = 0;
  for (size_t i = 0; i < w.size();) {
    CodePoint cp = decode_at(w, i);
    if (!is_upper(cp.value)) return false;
    ++letters;
    i += cp.length;
  }
  return letters >= 2;
}

std::string capitalised(std::string_view lower) {
  std::string out;
  CodePoint first = decode_at(lower, 0);
  append_utf8(out, to_upper(first.value));
  out += lower.substr(first.length);
  return out;
}

// Is the word at `begin` the start of a sentence (only opening punctuation and spaces before
// it back to the verse start or to . ! ?)?
bool starts_sentence(std::string_view s, size_t begin) {
  while (begin > 0) {
    CodePointBefore cp = decode_before(s, begin);
    if (cp.value == '.' || cp.value == '!' || cp.value == '?') return true;
    bool opener = cp.value == ' ' || cp.value == '(' || cp.value == 0xA1 || cp.value == 0xBF ||
                  cp.value == 0x201C || cp.value == 0x2018 || cp.value == 0xAB;
    if (!opener) return false;
    begin = cp.start;
  }
  return true;
}

}  // namespace

int64_t truecase_drop_caps(std::vector<Verse>& verses) {
  // Spelling counts of every word, leaving out verse-initial and all-capital occurrences.
  std::unordered_map<std::string, std::map<std::string, int64_t>> spellings;
  for (const Verse& v : verses) {
    std::vector<Word> words = words_of(v.text);
    for (size_t k = 1; k < words.size(); ++k) {
      std::string_view w(v.text.data() + words[k].begin, words[k].end - words[k].begin);
      if (!is_shouted(w)) ++spellings[lower_utf8(w)][std::string(w)];
    }
  }
  int64_t changed = 0;
  for (Verse& v : verses) {
    if (v.ref.verse != 1) continue;
    std::vector<Word> words = words_of(v.text);
    auto view = [&](size_t k) {
      return std::string_view(v.text.data() + words[k].begin, words[k].end - words[k].begin);
    };
    size_t first = 0;
    while (first < words.size() && !is_shouted(view(first))) ++first;
    size_t last = first;  // one past the run
    while (last < words.size() && is_shouted(view(last))) ++last;
    bool label = last - first > 1 && v.text.compare(words[first].end, 1, ".") == 0;
    // Right to left, so that replacing a word does not move the ones still to do.
    for (size_t k = last; k-- > first + (label ? 1 : 0);) {
      std::string lower = lower_utf8(view(k));
      std::string cased = lower;
      if (starts_sentence(v.text, words[k].begin)) {
        cased = capitalised(lower);
      } else if (auto it = spellings.find(lower); it != spellings.end()) {
        int64_t best = 0;
        for (const auto& [form, count] : it->second)
          if (count > best || (count == best && form == lower)) best = count, cased = form;
      }
      v.text.replace(words[k].begin, words[k].end - words[k].begin, cased);
      ++changed;
    }
  }
  return changed;
}

}  // namespace fwp::data
