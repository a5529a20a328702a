// UTF-8 helpers for the data code: walk a string one code point at a time, classify code
// points (letter, whitespace as Python's str.split() sees it) and change the case of the
// Latin letters our corpora use. Everything works on std::string bytes; a code point is
// decoded only where a rule needs to look at a whole character.
// Invalid UTF-8 never throws here: a stray byte decodes as itself (one "character").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fwp::data {

// The code point starting at s[i] and its length in bytes (1..4).
struct CodePoint {
  char32_t value;
  size_t length;
};
CodePoint decode_at(std::string_view s, size_t i);

// The code point that ends just before byte `end` (end > 0) and where it starts.
struct CodePointBefore {
  char32_t value;
  size_t start;
};
CodePointBefore decode_before(std::string_view s, size_t end);

void append_utf8(std::string& out, char32_t c);

// Whitespace exactly as Python's str.isspace() (what str.split() splits on).
bool is_python_space(char32_t c);

// Letters: ASCII letters and every non-ASCII code point that is not punctuation or a space
// we know of (our texts contain only Latin letters outside ASCII). Digits are separate.
bool is_letter(char32_t c);
bool is_digit(char32_t c);

// Case of ASCII and Latin-1 letters (A-Z, À-Þ except ×); other code points are unchanged.
bool is_upper(char32_t c);
bool is_lower(char32_t c);
char32_t to_lower(char32_t c);
char32_t to_upper(char32_t c);
std::string lower_utf8(std::string_view s);

// Lower-case vowel with an acute accent (á é í ó ú), after lower-casing.
bool is_acute_vowel(char32_t c);

}  // namespace fwp::data
