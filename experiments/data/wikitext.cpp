// WikiText-style tokenisation of English verses (rules in wikitext.h).
#include "experiments/data/wikitext.h"

#include <vector>

#include "experiments/data/utf8.h"

namespace fwp::data {
namespace {

char32_t ascii_quotes(char32_t c) {
  if (c == 0x201C || c == 0x201D) return '"';
  if (c == 0x2018 || c == 0x2019) return '\'';
  return c;
}

bool is_alnum(char32_t c) { return is_letter(c) || is_digit(c); }

}  // namespace

std::string wikitext_tokenize(std::string_view text) {
  std::vector<char32_t> cs;
  for (size_t i = 0; i < text.size(); i += decode_at(text, i).length)
    cs.push_back(ascii_quotes(decode_at(text, i).value));
  auto at = [&](size_t k) -> char32_t { return k < cs.size() ? cs[k] : 0; };

  std::string out;
  bool in_word = false;  // the last thing written is part of a word that may continue
  auto separate = [&] {
    if (!out.empty() && out.back() != ' ') out += ' ';
    in_word = false;
  };
  for (size_t k = 0; k < cs.size(); ++k) {
    char32_t c = cs[k], prev = k > 0 ? cs[k - 1] : 0, next = at(k + 1);
    if (is_python_space(c)) {
      separate();
    } else if (is_alnum(c)) {
      if (!in_word) separate();
      append_utf8(out, c);
      in_word = true;
    } else if (c == '-' && is_alnum(prev) && is_alnum(next)) {
      separate();
      out += "@-@";
      separate();
    } else if ((c == ',' || c == '.') && is_digit(prev) && is_digit(next)) {
      separate();
      out += c == ',' ? "@,@" : "@.@";
      separate();
    } else if (c == '\'' && is_letter(prev) && is_letter(next)) {
      separate();
      out += '\'';
      in_word = true;  // the apostrophe starts the next word: "'s", "'t"
    } else {
      separate();
      append_utf8(out, c);
      separate();
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace fwp::data
