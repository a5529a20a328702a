// Bible extraction: OSIS verse markup to text (the glued-word fix), the diatheke output parser,
// drop-cap re-casing, the book split, verse alignment and WikiText tokenisation. The raw lines
// are copied from what `diatheke -f internal` prints for the Debian modules (shortened where
// marked); no diatheke is needed to run these tests.
#include "tests/catch.h"

#include <map>

#include "core/error.h"
#include "experiments/data/align.h"
#include "experiments/data/bible.h"
#include "experiments/data/osis_text.h"
#include "experiments/data/wikitext.h"

using namespace fwp::data;
using fwp_test::HasSubstr;

namespace {

// engWEB2015eb, Genesis 1:1 exactly as diatheke prints it: the module has no space between
// <w>God</w> and <w>created</w>, so `diatheke -f plain` prints "Godcreated".
constexpr const char* kGen1_1 =
    R"(<w savlm="strong:H0430">In</w> <w savlm="strong:H0853">the</w> <w savlm="strong:H7225">beginning</w>, <w savlm="strong:H0430">God</w><w savlm="strong:H1254">created</w> <w savlm="strong:H0853">the</w> <w savlm="strong:H8064">heavens</w> <w savlm="strong:H0430">and</w> <w savlm="strong:H0853">the</w> <w savlm="strong:H0776">earth</w>.)";

// engWEB2015eb, Matthew 3:15 (end of the verse): a quote element closes and a word starts
// with no space in between.
constexpr const char* kMatt3_15_end =
    R"(<w savlm="strong:G3956">all</w> <w savlm="strong:G1343">righteousness</w>.”</q><w savlm="strong:G5119">Then</w> <w savlm="strong:G0863">he</w> <w savlm="strong:G0846">allowed</w> <w savlm="strong:G0846">him</w>. <div eID="gen30321" type="x-p"/>)";

// A diatheke run over three verses of Psalm 3, two of Psalm 4, one deuterocanonical verse and
// Matthew 1:1 (bodies shortened). Note the stale psalm title repeated before Psalms 3:2, 3:3
// and Tobit 1:1, and the Psalm 4 title before 4:1 and 4:2.
constexpr const char* kRun =
    R"(Psalms 2:12: Give sincere homage to the Son. <l eID="gen7858" level="2"/>
<title canonical="true" type="psalm">A Psalm by David, when he fled from Absalom his son.</title> <lg sID="gen7860"/> <l level="1" sID="gen7861"/>Psalms 3:1: Yahweh, how <w savlm="strong:H1732">my</w> adversaries <w savlm="strong:H1121">have</w> increased!<l eID="gen7861" level="1"/>
<title canonical="true" type="psalm">A Psalm by David, when he fled from Absalom his son.</title> <lg sID="gen7860"/> <l level="1" sID="gen7861"/>Psalms 3:2: <w savlm="strong:H7227">Many</w> <w savlm="strong:H3068">there</w> are.<l eID="gen7864" level="2"/> <l sID="gen7865" type="selah"/>Selah.<l eID="gen7865" type="selah"/>
<title canonical="true" type="psalm">A Psalm by David, when he fled from Absalom his son.</title> <lg sID="gen7860"/> <l level="1" sID="gen7861"/>Psalms 3:3: <l eID="gen7866" level="1"/>
<title canonical="true" type="psalm">For the Chief Musician; on stringed instruments. A Psalm by David.</title> <lg sID="gen7882"/> <l level="1" sID="gen7883"/>Psalms 4:1: Answer me when I call.<l eID="gen7883" level="1"/>
<title canonical="true" type="psalm">For the Chief Musician; on stringed instruments. A Psalm by David.</title> <lg sID="gen7882"/> <l level="1" sID="gen7883"/>Psalms 4:2: <w savlm="strong:H7121">You</w> sons <w savlm="strong:H0430">of</w> <w savlm="strong:H7121">men</w>.
<title canonical="true" type="psalm">For the Chief Musician; on stringed instruments. A Psalm by David.</title> <lg sID="gen7882"/> <l level="1" sID="gen7883"/>Tobit 1:1: The book of the words of Tobit.
<title canonical="true" type="psalm">For the Chief Musician; on stringed instruments. A Psalm by David.</title> <lg sID="gen7882"/> <l level="1" sID="gen7883"/>Matthew 1:1: The book of the genealogy of Jesus Christ.
(engWEB2015eb)
)";

std::vector<Verse> verses_from(std::vector<std::pair<VerseRef, std::string>> list) {
  std::vector<Verse> out;
  for (auto& [r, t] : list) out.push_back({r, t});
  return out;
}

}  // namespace

TEST_CASE("osis_to_text separates words whose tags touch", "[data][bible]") {
  CHECK(osis_to_text(kGen1_1) == "In the beginning, God created the heavens and the earth.");
  CHECK(osis_to_text(kMatt3_15_end) == "all righteousness.” Then he allowed him.");
  // Ps 1:2: word, apostrophe-s, then a glued word.
  CHECK(osis_to_text(R"(<w>Yahweh’s</w><w>law</w>.<l eID="g1" level="1"/> <l sID="g2"/><w>On</w>)") ==
        "Yahweh’s law. On");
  // Mt 4:10: ",</q><q><w>Satan" (a comma closes the first quote, the next one is glued on).
  CHECK(osis_to_text(R"(<w>me</w>,</q><q marker=""><w>Satan</w>!)") == "me, Satan!");
  // Ps 42:8: plain text glued to a following <w>.
  CHECK(osis_to_text(R"(Yahweh<w savlm="strong:H5921">will</w> command)") ==
        "Yahweh will command");
}

TEST_CASE("osis_to_text keeps punctuation attached across tags", "[data][bible]") {
  CHECK(osis_to_text(R"(<w>said</w>, “<w>Let</w> <w>there</w> <w>be</w> <w>light</w>,”)") ==
        "said, “Let there be light,”");
  CHECK(osis_to_text(R"(<w>earth</w>.)") == "earth.");
  CHECK(osis_to_text(R"(After <w>this</w>—<w>after</w> he)") == "After this—after he");
  CHECK(osis_to_text(R"(<w>mujer</w>: ¿<w>Conque</w>)") == "mujer: ¿Conque");
  CHECK(osis_to_text(R"(sons’</w>. <w>It</w>)") == "sons’. It");
  CHECK(osis_to_text(R"(<w>AM</w>.<q marker="">”</q><div eID="x" type="x-p"/>)") == "AM.”");
}

TEST_CASE("osis_to_text drops notes, speakers, headings and text after the book end",
          "[data][bible]") {
  // Song of Solomon 1:4 (shortened): <speaker> labels are editorial.
  CHECK(osis_to_text(R"(<w>rooms</w>.<l eID="a" level="2"/> <lg eID="b"/> <speaker>Friends</speaker> <lg sID="c"/> <l level="1" sID="d"/>We <w>will</w> <w>be</w> <w>glad</w>.)") ==
        "rooms. We will be glad.");
  CHECK(osis_to_text(R"(one<note type="x-footnote">or, <w>two</w> <note>nested</note></note> three)") ==
        "one three");
  CHECK(osis_to_text(R"(<title type="x-heading">The Creation</title><w>In</w> the)") == "In the");
  // Revelation 22:21 (shortened): the module appends its glossary after the end of the book.
  CHECK(osis_to_text(R"(<w>the</w> saints. Amen.  <chapter eID="Rev.22"/><div eID="gen35836" type="x-p"/> <div canonical="true" eID="gen35575" osisID="Rev" type="book"/> <div sID="gen35837" type="glossary"/> <milestone n="Glossary" type="x-usfm-h"/> <list> <item><seg type="keyword">Abaddon</seg> Abaddon is Hebrew for destruction.</item>)") ==
        "the saints. Amen.");
  CHECK(osis_to_text("  a&amp;b &lt;c&gt; &#233; &#x41; &bogus; \t\n z ") ==
        "a&b <c> é A &bogus; z");
  CHECK(canonical_titles(R"(<title type="x-heading">Editorial</title> <title canonical="true" type="psalm">A Psalm by <w>David</w>.</title> <lg sID="g"/>)") ==
        "A Psalm by David.");
  CHECK_THROWS_WITH(osis_to_text("word <w savlm=\"strong"), HasSubstr("unterminated tag") &&
                                                              HasSubstr("byte 5"));
}

TEST_CASE("osis_to_text attaches Spanish enclitic pronouns only", "[data][bible]") {
  OsisTextOptions es{.spanish_enclitics = true};
  // Genesis 2:12: an added word glued on both sides is a word of its own.
  CHECK(osis_to_text(R"(<w savlm="strong:H8033">hay allí</w><transChange type="added">también</transChange><w savlm="strong:H0916">bdelio</w>)", es) ==
        "hay allí también bdelio");
  // Genesis 19:12: a pronoun glued to the verb only, rule (a).
  CHECK(osis_to_text(R"(<w savlm="strong:H3318">sáca</w><transChange type="added">lo</transChange> <w>de</w>)", es) ==
        "sácalo de");
  // Glued on both sides: attached only after a written non-final accent, rule (b).
  CHECK(osis_to_text(R"(<w>díjo</w><transChange type="added">le</transChange><w>Dios</w>)", es) ==
        "díjole Dios");
  CHECK(osis_to_text(R"(<w>Jehová</w><transChange type="added">los</transChange><w>acose</w>)", es) ==
        "Jehová los acose");
  // Stacked pronouns are one enclitic chain; a non-pronoun is not.
  CHECK(osis_to_text(R"(<w>dános</w><transChange type="added">lo</transChange> hoy)", es) ==
        "dánoslo hoy");
  CHECK(osis_to_text(R"(<w>Abram</w><transChange type="added">de allí</transChange>,)", es) ==
        "Abram de allí,");
  // English text never attaches.
  CHECK(osis_to_text(R"(<w>sáca</w><transChange type="added">lo</transChange> de)") ==
        "sáca lo de");
}

TEST_CASE("parse_diatheke keeps a verse's own title and skips other books", "[data][bible]") {
  ParseStats st;
  std::vector<Verse> v = parse_diatheke(kRun, {}, &st);
  REQUIRE(v.size() == 6);
  CHECK(v[0].ref.str() == "Ps.2.12");
  CHECK(v[1].ref.str() == "Ps.3.1");
  CHECK(v[1].text == "A Psalm by David, when he fled from Absalom his son. Yahweh, how my "
                     "adversaries have increased!");
  CHECK(v[2].text == "Many there are. Selah.");  // the repeated title is not its own
  CHECK(v[3].text ==
        "For the Chief Musician; on stringed instruments. A Psalm by David. Answer me when I call.");
  CHECK(v[4].text == "You sons of men.");
  CHECK(v[5].ref.str() == "Matt.1.1");
  CHECK(v[5].text == "The book of the genealogy of Jesus Christ.");
  CHECK(st.lines == 8);
  CHECK(st.empty == 1);        // Psalms 3:3 has only markup
  CHECK(st.other_books == 1);  // Tobit
  CHECK(st.titles == 2);
  ParseOptions no_titles;
  no_titles.canonical_titles = false;
  CHECK(parse_diatheke(kRun, no_titles)[1].text == "Yahweh, how my adversaries have increased!");
}

TEST_CASE("parse_diatheke rejects lines that are not verses", "[data][bible]") {
  CHECK_THROWS_WITH(parse_diatheke("Genesis 1:1: In the beginning.\nsome stray text\n", {}),
                    HasSubstr("line 2") && HasSubstr("no verse reference"));
  CHECK_THROWS_WITH(parse_diatheke("Genesis 1:2: b\nGenesis 1:1: a\n", {}),
                    HasSubstr("line 2") && HasSubstr("Gen.1.1 does not follow Gen.1.2"));
  CHECK(parse_diatheke("(spaRV1909eb)\n", {}).empty());
}

TEST_CASE("truecase_drop_caps re-cases the capitals that open a chapter", "[data][bible]") {
  std::vector<Verse> v = verses_from({
      {{0, 1, 1}, "EN el principio crió Dios los cielos."},
      {{0, 2, 1}, "Y FUERON acabados los cielos."},
      {{0, 2, 2}, "Y fueron hechos, y dijo Jehová."},
      {{0, 7, 1}, "Y JEHOVÁ dijo á Noé."},
      {{0, 7, 2}, "Dijo Jehová: YO SOY EL QUE SOY."},
      {{13, 34, 1}, "DE OCHO años era Josías."},
      {{18, 3, 1}, "Salmo de David. ¡OH Jehová, cuánto!"},
      {{18, 119, 1}, "ALEPH. BIENAVENTURADOS los perfectos."},
  });
  CHECK(truecase_drop_caps(v) == 7);
  CHECK(v[0].text == "En el principio crió Dios los cielos.");
  CHECK(v[1].text == "Y fueron acabados los cielos.");  // "fueron" is the usual spelling
  CHECK(v[3].text == "Y Jehová dijo á Noé.");            // "Jehová" is the usual spelling
  CHECK(v[4].text == "Dijo Jehová: YO SOY EL QUE SOY.");  // not verse 1: genuine capitals
  CHECK(v[5].text == "De ocho años era Josías.");
  CHECK(v[6].text == "Salmo de David. ¡Oh Jehová, cuánto!");
  CHECK(v[7].text == "ALEPH. Bienaventurados los perfectos.");  // the acrostic label stays
}

TEST_CASE("the book split holds out whole books", "[data][bible]") {
  std::map<Split, std::vector<std::string>> books;
  for (int b = 0; b < kNumBooks; ++b) books[split_of_book(b)].push_back(book_info(b).osis);
  CHECK(books[Split::valid] == std::vector<std::string>{"Judg", "John"});
  CHECK(books[Split::test] == std::vector<std::string>{"Josh", "Acts"});
  CHECK(books[Split::train].size() == 62);
  CHECK(find_book("Revelation of John") == 65);
  CHECK(find_book("Tobit") == -1);
  // Verses of every book in order: no verse of a held-out book lands in train.
  std::vector<Verse> all;
  for (int b = 0; b < kNumBooks; ++b)
    for (int v = 1; v <= 3; ++v) all.push_back({{b, 1, v}, "x"});
  std::vector<Verse> train = select_split(all, Split::train);
  std::vector<Verse> test = select_split(all, Split::test);
  CHECK(train.size() == 62 * 3);
  CHECK(test.size() == 2 * 3);
  for (const Verse& v : train) CHECK(split_of_book(v.ref.book) == Split::train);
  for (const Verse& v : test) {
    std::string osis = book_info(v.ref.book).osis;
    CHECK((osis == "Josh" || osis == "Acts"));
  }
  CHECK_THROWS_WITH(book_info(66), HasSubstr("[0, 66)"));
}

TEST_CASE("gale_church_one_to_one follows lengths", "[data][align]") {
  // Equal sequences: the diagonal.
  CHECK(gale_church_one_to_one({50, 120, 30, 80}, {50, 120, 30, 80}, 1.0, 2.0) ==
        std::vector<int>{0, 1, 2, 3});
  // Source verses 2 and 3 are one target verse (a 2-1 bead): neither is matched 1-1.
  CHECK(gale_church_one_to_one({50, 120, 30, 80, 60}, {50, 120, 110, 60}, 1.0, 2.0) ==
        std::vector<int>{0, 1, -1, -1, 3});
  // The target lacks the short verse 2. Gale-Church joins it to a neighbour (a 2-1 bead costs
  // -log(0.0445) + 2.7 = 5.8 here, leaving it out -log(0.00495) + 17 = 22): the neighbour is
  // then not matched 1-1 either.
  CHECK(gale_church_one_to_one({50, 120, 30, 80}, {50, 120, 80}, 1.0, 2.0) ==
        std::vector<int>{0, -1, -1, 2});
  // Nothing to match.
  CHECK(gale_church_one_to_one({40}, {}, 1.0, 2.0) == std::vector<int>{-1});
}

TEST_CASE("align_verses drops pairs whose references disagree with their lengths",
          "[data][align]") {
  // Chapter 1 ends at verse 4 in the source but at verse 5 in the target, whose 1:5 is the
  // source's 2:1 (a chapter break in a different place): source chapter 2 is shifted by one.
  std::vector<int> lens_a = {40, 90, 60, 150, 70, 110, 50, 130};
  std::vector<Verse> tgt, src;
  for (int v = 1; v <= 5; ++v) tgt.push_back({{0, 1, v}, std::string(lens_a[v - 1], 'e')});
  for (int v = 1; v <= 3; ++v) tgt.push_back({{0, 2, v}, std::string(lens_a[v + 4], 'e')});
  for (int v = 1; v <= 4; ++v) src.push_back({{0, 1, v}, std::string(lens_a[v - 1], 's')});
  for (int v = 1; v <= 4; ++v) src.push_back({{0, 2, v}, std::string(lens_a[v + 3], 's')});
  AlignStats st;
  std::vector<VersePair> pairs = align_verses(src, tgt, {}, &st);
  CHECK(st.common == 7);
  CHECK(st.breaks == 2);  // chapter 2 also ends differently (verse 4 against 3)
  std::vector<std::string> kept;
  for (const VersePair& p : pairs) kept.push_back(p.ref.str());
  CHECK(kept == std::vector<std::string>{"Gen.1.1", "Gen.1.2", "Gen.1.3", "Gen.1.4"});
  CHECK(st.dropped.size() == 3);
  CHECK(st.kept == 4);
  // Without the length check every pair with equal references is kept.
  CHECK(align_verses(src, tgt, {.length_check = false}).size() == 7);
}

TEST_CASE("wikitext_tokenize follows the WikiText conventions", "[data][wikitext]") {
  CHECK(wikitext_tokenize("In the beginning, God created the heavens.") ==
        "In the beginning , God created the heavens .");
  CHECK(wikitext_tokenize("God said, “Let there be light,” and God’s Spirit didn’t.") ==
        "God said , \" Let there be light , \" and God 's Spirit didn 't .");
  CHECK(wikitext_tokenize("his sons’. ‘You’ thirty-two (Kurios) 1,000 2.5 this—that") ==
        "his sons ' . ' You ' thirty @-@ two ( Kurios ) 1 @,@ 000 2 @.@ 5 this — that");
  CHECK(wikitext_tokenize("  ").empty());
}
