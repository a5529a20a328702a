// OSIS verse markup to plain text (see osis_text.h for the rules and why).
//
// The Spanish exception, measured on spaRV1909eb: of the 3501 added-word spans (<transChange>),
// 302 are glued to the word before them and 280 to the word after. Most of those are whole
// added words whose spaces the module lost ("hay allí<también>bdelio"), but about a hundred
// are enclitic pronouns the editors marked as added ("adorándo<le>", "sáca<lo>"), which Spanish
// writes attached to the verb. The markup cannot tell the two apart, so we use grammar: a span
// made only of enclitic pronouns (me te se nos os lo la los las le les, possibly stacked) and
// glued to the letter before it is attached when
//   (a) it is not glued to the word after it ("sáca<lo> de"), or
//   (b) the word before carries a written accent on a non-final vowel: RV1909 writes the
//       stress of verb + enclitic that way ("díjo<le>Dios" -> "díjole Dios").
// Everything else gets the space back. The spans this still gets wrong (six in the whole
// Bible, e.g. "cuánto<nos>ayudó" -> "cuántonos ayudó") are listed in docs/DATA.md.
#include "experiments/data/osis_text.h"

#include <array>

#include "core/error.h"
#include "experiments/data/utf8.h"

namespace fwp::data {
namespace {

struct Tag {
  std::string_view name;  // element name
  std::string_view raw;   // the whole tag, "<...>"
  bool closing = false;   // </name>
  bool empty = false;     // <name ... />
  size_t end = 0;         // index just after '>'
};

Tag parse_tag(std::string_view s, size_t i) {
  size_t close = s.find('>', i);
  FWP_CHECK(close != std::string_view::npos, "osis_to_text: unterminated tag at byte ", i,
            ": '", s.substr(i, 40), "'");
  Tag t;
  t.raw = s.substr(i, close + 1 - i);
  t.end = close + 1;
  size_t p = i + 1;
  if (p < close && s[p] == '/') {
    t.closing = true;
    ++p;
  }
  size_t q = p;
  while (q < close && s[q] != ' ' && s[q] != '/' && s[q] != '\t' && s[q] != '\n') ++q;
  t.name = s.substr(p, q - p);
  t.empty = s[close - 1] == '/';
  return t;
}

// The value of attribute `key` in a tag, "" when absent.
std::string_view attribute(std::string_view raw, std::string_view key) {
  for (size_t pos = raw.find(key); pos != std::string_view::npos; pos = raw.find(key, pos + 1)) {
    size_t eq = pos + key.size();
    bool whole_name = pos > 0 && (raw[pos - 1] == ' ' || raw[pos - 1] == '\t');
    if (!whole_name || eq + 1 >= raw.size() || raw[eq] != '=') continue;
    char quote = raw[eq + 1];
    size_t value_end = raw.find(quote, eq + 2);
    if (value_end == std::string_view::npos) return {};
    return raw.substr(eq + 2, value_end - eq - 2);
  }
  return {};
}

bool is_book_end(const Tag& t) {
  return t.name == "div" && attribute(t.raw, "type") == "book" && !attribute(t.raw, "eID").empty();
}

// Elements dropped with their content: notes, speaker labels, editorial headings.
bool is_dropped(const Tag& t) {
  if (t.name == "note" || t.name == "speaker") return true;
  return t.name == "title" && attribute(t.raw, "canonical") != "true";
}

bool is_closing_punct(char32_t c) {
  switch (c) {
    case '.': case ',': case ';': case ':': case '!': case '?': case ')': case ']':
    case 0xBB: case 0x201D: case 0x2019:  // » ” ’
      return true;
    default:
      return false;
  }
}

bool is_opening_punct(char32_t c) {
  switch (c) {
    case '(': case '[': case 0xAB: case 0x201C: case 0x2018: case 0xBF: case 0xA1:  // « “ ‘ ¿ ¡
      return true;
    default:
      return false;
  }
}

// A tag run with no whitespace between `left` and `right` separates two words.
bool needs_space(char32_t left, char32_t right) {
  bool left_ends = is_letter(left) || is_digit(left) || is_closing_punct(left);
  bool right_starts = is_letter(right) || is_digit(right) || is_opening_punct(right);
  return left_ends && right_starts;
}

bool is_clitic_chain(std::string_view w) {
  static constexpr std::array<std::string_view, 11> kClitics = {
      "los", "las", "les", "nos", "me", "te", "se", "os", "lo", "la", "le"};
  if (w.empty()) return true;
  for (std::string_view c : kClitics)
    if (w.substr(0, c.size()) == c && is_clitic_chain(w.substr(c.size()))) return true;
  return false;
}

// Does the last word of `out` carry an acute accent on a vowel other than its last letter?
bool has_inner_acute(std::string_view out) {
  size_t end = out.size();
  bool last_letter = true;
  while (end > 0) {
    CodePointBefore cp = decode_before(out, end);
    if (!is_letter(cp.value)) break;
    if (!last_letter && is_acute_vowel(to_lower(cp.value))) return true;
    last_letter = false;
    end = cp.start;
  }
  return false;
}

// Rule (a)/(b) of the file comment for the <transChange> whose content starts at `begin`.
bool enclitic_suffix(std::string_view out, std::string_view m, size_t begin) {
  constexpr std::string_view kClose = "</transChange>";
  size_t close = m.find(kClose, begin);
  if (close == std::string_view::npos || out.empty()) return false;
  std::string content;
  for (size_t i = begin; i < close; ++i) {
    if (m[i] == '<') i = m.find('>', i);
    else content += m[i];
  }
  if (content.empty() || !is_clitic_chain(content)) return false;
  if (!is_letter(decode_before(out, out.size()).value)) return false;
  size_t j = close + kClose.size();
  while (j < m.size() && m[j] == '<') {
    size_t gt = m.find('>', j);
    j = gt == std::string_view::npos ? m.size() : gt + 1;
  }
  bool glued_right = j < m.size() && is_letter(decode_at(m, j).value);
  return !glued_right || has_inner_acute(out);
}

// Decodes an XML entity at m[i] == '&'; false if it is not one we know.
bool decode_entity(std::string_view m, size_t i, char32_t& c, size_t& length) {
  size_t semi = m.find(';', i);
  if (semi == std::string_view::npos || semi - i > 10) return false;
  std::string_view name = m.substr(i + 1, semi - i - 1);
  if (name == "amp") c = '&';
  else if (name == "lt") c = '<';
  else if (name == "gt") c = '>';
  else if (name == "quot") c = '"';
  else if (name == "apos") c = '\'';
  else if (name.size() > 1 && name[0] == '#') {
    bool hex = name[1] == 'x' || name[1] == 'X';
    std::string digits(name.substr(hex ? 2 : 1));
    if (digits.empty()) return false;
    try {
      c = static_cast<char32_t>(std::stoul(digits, nullptr, hex ? 16 : 10));
    } catch (const std::exception&) {
      return false;
    }
  } else {
    return false;
  }
  length = semi + 1 - i;
  return true;
}

}  // namespace

std::string osis_to_text(std::string_view m, const OsisTextOptions& options) {
  std::string out;
  bool space = false;    // whitespace seen since the last character written
  bool tag_run = false;  // a tag seen since the last character written
  bool attach = false;   // that tag run opened an enclitic added word: no space
  std::string_view skipping;
  int skip_depth = 0;
  size_t i = 0;
  while (i < m.size()) {
    if (m[i] == '<') {
      Tag t = parse_tag(m, i);
      i = t.end;
      if (skip_depth > 0) {
        if (t.name == skipping && !t.empty) skip_depth += t.closing ? -1 : 1;
        tag_run = skip_depth == 0;
        continue;
      }
      if (is_book_end(t)) break;
      if (!t.closing && !t.empty && is_dropped(t)) {
        skipping = t.name;
        skip_depth = 1;
        continue;
      }
      tag_run = true;
      if (options.spanish_enclitics && t.name == "transChange" && !t.closing && !t.empty)
        attach = enclitic_suffix(out, m, i);
      continue;
    }
    CodePoint cp = decode_at(m, i);
    if (m[i] == '&') decode_entity(m, i, cp.value, cp.length);
    i += cp.length;
    if (skip_depth > 0) continue;
    if (is_python_space(cp.value)) {
      space = true;
      continue;
    }
    if (!out.empty()) {
      if (space) out += ' ';
      else if (tag_run && !attach && needs_space(decode_before(out, out.size()).value, cp.value))
        out += ' ';
    }
    append_utf8(out, cp.value);
    space = tag_run = attach = false;
  }
  return out;
}

std::string canonical_titles(std::string_view markup, const OsisTextOptions& options) {
  std::string out;
  size_t i = markup.find("<title");
  while (i != std::string_view::npos) {
    Tag t = parse_tag(markup, i);
    size_t next = t.end;
    if (t.name == "title" && !t.closing && !t.empty) {
      size_t close = markup.find("</title>", t.end);
      FWP_CHECK(close != std::string_view::npos, "canonical_titles: <title> without </title>: '",
                markup.substr(i, 60), "'");
      if (attribute(t.raw, "canonical") == "true") {
        std::string text = osis_to_text(markup.substr(t.end, close - t.end), options);
        if (!text.empty()) out += (out.empty() ? "" : " ") + text;
      }
      next = close;
    }
    i = markup.find("<title", next);
  }
  return out;
}

}  // namespace fwp::data
