// English text to WikiText-103 style tokens, so the Bible LM corpus reads like WikiText.
// WikiText was tokenised with the Moses conventions; the ones that occur in our text:
//   punctuation is split off:        "light," -> "light ,"      "(Kurios)" -> "( Kurios )"
//   quotes become ASCII:              “ ” -> "      ‘ ’ -> '
//   apostrophe between letters:       "God’s" -> "God 's"       "don’t" -> "don 't"
//   other apostrophes stand alone:    "sons’." -> "sons ' ."
//   hyphen between letters or digits: "thirty-two" -> "thirty @-@ two"
//   comma / point between digits:     "1,000" -> "1 @,@ 000"    "2.5" -> "2 @.@ 5"
// Dashes (— –) and every other non-alphanumeric character are tokens of their own.
#pragma once
#include <string>
#include <string_view>

namespace fwp::data {

// Tokens separated by single spaces, no leading or trailing space.
std::string wikitext_tokenize(std::string_view text);

}  // namespace fwp::data
