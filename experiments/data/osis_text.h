// From one verse of OSIS markup (as SWORD stores it and `diatheke -f internal` prints it) to
// plain text. The one idea: the SWORD modules lost the whitespace between some adjacent
// elements (`<w>God</w><w>created</w>`, `.”</q><w>Then</w>`), and every renderer that just
// strips tags (diatheke -f plain) glues those words ("Godcreated"). We convert the markup
// ourselves and put a space back wherever a run of tags with no whitespace around it separates
// a word or closing punctuation from a word or opening punctuation.
// One exception, Spanish only: an added word (<transChange>) made only of enclitic pronouns
// and glued to the word before it is a suffix ("adorándo<le>" -> "adorándole"); see the .cpp.
#pragma once
#include <string>
#include <string_view>

namespace fwp::data {

struct OsisTextOptions {
  bool spanish_enclitics = false;  // apply the enclitic-pronoun rule to <transChange> words
};

// The plain text of a verse body: tags removed, words separated where tags glued them,
// whitespace collapsed to single spaces, trimmed. Dropped with their content: <note>,
// <speaker> and non-canonical <title> (editorial headings). Everything after the end-of-book
// marker (<div eID=".." type="book"/>) is dropped: modules append glossaries to the last verse.
// XML entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;) are decoded.
// Throws fwp::Error on an unterminated tag.
std::string osis_to_text(std::string_view markup, const OsisTextOptions& options = {});

// The text of the canonical titles (<title canonical="true">, e.g. psalm superscriptions) in
// `markup`, converted like osis_to_text and joined by a space; "" if there are none.
std::string canonical_titles(std::string_view markup, const OsisTextOptions& options = {});

}  // namespace fwp::data
