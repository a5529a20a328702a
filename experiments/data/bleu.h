// Corpus BLEU (Papineni et al. 2002) with sacreBLEU's conventions, so our numbers can be
// compared with published ones. sacreBLEU 2.x's corpus_bleu defaults are: the "13a" tokenizer
// (mteval-v13a), case-sensitive, n-grams 1..4, clipped counts summed over the corpus, brevity
// penalty from the closest reference length, and smoothing method "exp". fwp's default is the
// same except smoothing is OFF ("none"), as the plain BLEU definition and our issue ask for:
//   BLEU = BP * exp( (1/4) sum_n log p_n ),   p_n = matched n-grams / hypothesis n-grams,
//   BP   = 1 if c >= r else exp(1 - r / c)     (c, r: hypothesis / reference lengths),
// and BLEU = 0 as soon as one p_n is 0. With smoothing "exp" (sacreBLEU's default, mteval's
// NIST smoothing) the k-th order with zero matches gets p_n = 1 / (2^k * total_n) instead.
// Scores are on sacreBLEU's 0..100 scale.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fwp::data {

// sacreBLEU's 13a tokenizer (tokenizer_13a.py + tokenizer_re.py), character for character.
std::string tokenize_13a(std::string_view line);

enum class BleuSmoothing { none, exp };

struct BleuOptions {
  BleuSmoothing smoothing = BleuSmoothing::none;
  bool tokenize = true;  // false: the text is already tokenized (split on spaces only)
};

struct BleuScore {
  double score = 0.0;         // 0..100
  double precisions[4] = {};  // p_n in percent, after smoothing
  double bp = 0.0;            // brevity penalty
  double ratio = 0.0;         // hyp_len / ref_len
  int64_t hyp_len = 0, ref_len = 0;
  int64_t correct[4] = {}, total[4] = {};
  // sacreBLEU's line: "BLEU = 25.00 60.0/40.0/20.0/10.0 (BP = 1.000 ratio = 1.000 hyp_len = 5
  // ref_len = 5)"
  std::string str() const;
};

// refs[k][i] is the k-th reference of hypothesis i (one or more reference sets). Throws
// fwp::Error when a reference set does not have one line per hypothesis.
BleuScore corpus_bleu(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options = {});

}  // namespace fwp::data
