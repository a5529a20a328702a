// Corpus BLEU on hand-computed examples, and the 13a tokenizer on the cases its regular
// expressions distinguish. scripts/check_bleu.py compares the same code with sacreBLEU itself.
#include "tests/catch.h"

#include <cmath>

#include "core/error.h"
#include "experiments/data/bleu.h"

using namespace fwp::data;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using fwp_test::HasSubstr;

TEST_CASE("tokenize_13a splits like mteval-v13a", "[data][bleu]") {
  CHECK(tokenize_13a("Hello, world.") == "Hello , world .");
  // Points and commas stay inside numbers, $ is split off.
  CHECK(tokenize_13a("It costs $3.50, or 1,000 yen.") == "It costs $ 3.50 , or 1,000 yen .");
  CHECK(tokenize_13a("U.S.A. is big...") == "U . S . A . is big . . .");
  // Apostrophes and hyphens between letters stay; a hyphen after a digit is split.
  CHECK(tokenize_13a("don't stop-it 5-6 (x) [y] {z} a/b") ==
        "don't stop-it 5 - 6 ( x ) [ y ] { z } a / b");
  CHECK(tokenize_13a("&quot;hi&quot; &amp;lt; <skipped>ok") == "\" hi \" < ok");
  // Non-ASCII quotes are not punctuation for 13a; letters with accents are letters.
  CHECK(tokenize_13a("“Let there be light,” and") == "“Let there be light , ” and");
  CHECK(tokenize_13a("año, é.") == "año , é .");
  CHECK(tokenize_13a("x.y,z 1.a a.1") == "x . y , z 1 . a a . 1");
  // Python's str.split() whitespace: tab, no-break space, em space.
  CHECK(tokenize_13a("tab\there\u00a0nbsp\u2003em") == "tab here nbsp em");
}

TEST_CASE("corpus_bleu matches hand-computed scores", "[data][bleu]") {
  // hyp "the cat sat on a mat" vs ref "the cat sat on the mat" (6 tokens each, BP = 1):
  //   1-grams: the cat sat on mat match, "a" not        5/6
  //   2-grams: the-cat cat-sat sat-on match              3/5
  //   3-grams: the-cat-sat cat-sat-on                    2/4
  //   4-grams: the-cat-sat-on                            1/3
  //   BLEU = (5/6 * 3/5 * 2/4 * 1/3)^(1/4) = (1/12)^(1/4) = 0.537285 -> 53.73
  BleuScore s = corpus_bleu({"the cat sat on a mat"}, {{"the cat sat on the mat"}});
  CHECK_THAT(s.score, WithinRel(100.0 * std::pow(1.0 / 12.0, 0.25), 1e-12));
  CHECK(s.correct[0] == 5);
  CHECK(s.total[3] == 3);
  CHECK(s.bp == 1.0);
  CHECK(s.str() ==
        "BLEU = 53.73 83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)");

  // Corpus BLEU sums the counts before dividing. Adding "Hello, world!" (tokens
  // "Hello , world !", all 4+3+2+1 n-grams match):
  //   p = 9/10, 6/8, 4/6, 2/4 -> (0.9 * 0.75 * 0.6667 * 0.5)^(1/4) = 0.225^(1/4) = 68.87,
  // not the mean of the sentence scores (53.73 and 100).
  s = corpus_bleu({"the cat sat on a mat", "Hello, world!"},
                  {{"the cat sat on the mat", "Hello, world!"}});
  CHECK_THAT(s.score, WithinRel(100.0 * std::pow(0.225, 0.25), 1e-12));
  CHECK(s.hyp_len == 10);

  // Brevity: hyp "the cat sat on" (4 tokens, every n-gram matches) against 6 reference tokens:
  //   BP = exp(1 - 6/4) = exp(-0.5) = 0.60653 -> 60.65
  s = corpus_bleu({"the cat sat on"}, {{"the cat sat on the mat"}});
  CHECK_THAT(s.score, WithinRel(100.0 * std::exp(-0.5), 1e-12));
  CHECK_THAT(s.ratio, WithinRel(4.0 / 6.0, 1e-12));
}

TEST_CASE("corpus_bleu smoothing: none gives 0, exp follows sacreBLEU", "[data][bleu]") {
  // hyp "the cat the cat" vs "the cat sat on the mat":
  //   1-grams: the x2 (ref has 2), cat x2 (ref has 1, clipped)   3/4
  //   2-grams: the-cat x2 (ref 1, clipped), cat-the x1 (ref 0)   1/3
  //   3-grams: 0/2, 4-grams: 0/1;  BP = exp(1 - 6/4) = 0.60653
  // none: a zero precision makes BLEU 0.
  BleuScore none = corpus_bleu({"the cat the cat"}, {{"the cat sat on the mat"}});
  CHECK(none.score == 0.0);
  CHECK(none.correct[1] == 1);
  CHECK(none.total[1] == 3);
  // exp: the first zero order gets 1/(2 * 2), the second 1/(4 * 1):
  //   p = 75, 33.33, 25, 25 (percent) -> (75 * 33.33 * 25 * 25)^(1/4) = 1562500^(1/4)
  //     = sqrt(1250) = 35.355;  x 0.60653 = 21.444
  BleuOptions exp_smoothing{.smoothing = BleuSmoothing::exp};
  BleuScore e = corpus_bleu({"the cat the cat"}, {{"the cat sat on the mat"}}, exp_smoothing);
  CHECK_THAT(e.score, WithinRel(std::exp(-0.5) * std::sqrt(1250.0), 1e-12));
  CHECK_THAT(e.precisions[2], WithinAbs(25.0, 1e-12));
  CHECK(e.str() ==
        "BLEU = 21.44 75.0/33.3/25.0/25.0 (BP = 0.607 ratio = 0.667 hyp_len = 4 ref_len = 6)");
  // No 3-grams in the hypothesis at all: sacreBLEU stops there, so even exp gives 0.
  CHECK(corpus_bleu({"the cat"}, {{"the cat sat on the mat"}}, exp_smoothing).score == 0.0);
  // No match at all: 0 with every smoothing.
  CHECK(corpus_bleu({"w x y z"}, {{"a b c d"}}, exp_smoothing).score == 0.0);
}

TEST_CASE("corpus_bleu with several references", "[data][bleu]") {
  // Each n-gram is clipped by its largest count in any reference; the reference length is the
  // closest one, the shorter on a tie: |5 - 4| = |5 - 6| -> 4, so BP = 1.
  BleuScore s = corpus_bleu({"a b c d e"}, {{"a b c d"}, {"a b c d e f"}});
  CHECK_THAT(s.score, WithinRel(100.0, 1e-12));
  CHECK(s.ref_len == 4);
  CHECK_THROWS_WITH(corpus_bleu({"a", "b"}, {{"a", "b"}, {"a"}}),
                    HasSubstr("reference set 1 has 1 lines but there are 2 hypotheses"));
  CHECK_THROWS_WITH(corpus_bleu({"a"}, {}), HasSubstr("at least one reference"));
}
