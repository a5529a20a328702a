// UTF-8 decoding and the small character classes the data code needs (see utf8.h).
#include "experiments/data/utf8.h"

namespace fwp::data {

CodePoint decode_at(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + len > s.size()) return {b, 1};
  if (len == 1) return {b, 1};
  char32_t c = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont >> 6) != 0x2) return {b, 1};  // not a continuation byte: treat b alone
    c = (c << 6) | (cont & 0x3F);
  }
  return {c, len};
}

CodePointBefore decode_before(std::string_view s, size_t end) {
  size_t start = end - 1;
  // Step back over at most 3 continuation bytes to the lead byte.
  while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) >> 6) == 0x2)
    --start;
  CodePoint cp = decode_at(s, start);
  if (start + cp.length != end) return {static_cast<unsigned char>(s[end - 1]), end - 1};
  return {cp.value, start};
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (is_python_space(c)) return false;
  if (c >= 0xA1 && c <= 0xBF) return false;     // Latin-1 punctuation and signs: ¡ « » ¿ ...
  if (c == 0xD7 || c == 0xF7) return false;     // × ÷
  if (c >= 0x2000 && c <= 0x206F) return false;  // General Punctuation: – — ‘ ’ “ ” …
  return true;
}

bool is_upper(char32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
}
bool is_lower(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7);
}
char32_t to_lower(char32_t c) { return is_upper(c) ? c + 0x20 : c; }
char32_t to_upper(char32_t c) {
  return (is_lower(c) && c != 0xDF && c != 0xFF) ? c - 0x20 : c;  // ß and ÿ stay
}

std::string lower_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    CodePoint cp = decode_at(s, i);
    append_utf8(out, to_lower(cp.value));
    i += cp.length;
  }
  return out;
}

bool is_acute_vowel(char32_t c) {
  return c == 0xE1 || c == 0xE9 || c == 0xED || c == 0xF3 || c == 0xFA;
}

}  // namespace fwp::data
