// Verse pairs by reference, filtered by the versification and length checks (see align.h).
#include "experiments/data/align.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "experiments/data/utf8.h"

namespace fwp::data {
namespace {

using ChapterKey = std::pair<int, int>;  // (book, chapter)
using Chapters = std::map<ChapterKey, std::vector<const Verse*>>;

Chapters by_chapter(const std::vector<Verse>& verses) {
  Chapters chapters;
  for (const Verse& v : verses) chapters[{v.ref.book, v.ref.chapter}].push_back(&v);
  return chapters;
}

double char_count(std::string_view s) {
  double n = 0;
  for (size_t i = 0; i < s.size(); i += decode_at(s, i).length) ++n;
  return n;
}

// One Gale-Church bead: di source and dj target sentences, prior probability of the bead type.
struct Bead {
  int di, dj;
  double prior;
};
constexpr Bead kBeads[] = {
    {1, 1, 0.89}, {1, 0, 0.0099 / 2}, {0, 1, 0.0099 / 2}, {2, 1, 0.089 / 2}, {1, 2, 0.089 / 2}};

// -log P(bead) - log P(|delta|): delta is the length mismatch in standard deviations. The
// length term is capped at 25 nats, as Gale and Church's program does (BIG_DISTANCE = 2500 in
// units of -100 log): without the cap a 1-0 bead for a long verse is so expensive that the
// aligner shifts a whole run of verses instead of leaving one out.
double bead_cost(double ls, double lt, double ratio, double variance, double prior) {
  double mean = std::max((ls + lt / ratio) / 2.0, 1.0);
  double delta = (lt - ls * ratio) / std::sqrt(mean * variance);
  double two_tails = std::erfc(std::abs(delta) / std::sqrt(2.0));  // 2 (1 - Phi(|delta|))
  return -std::log(prior) + std::min(-std::log(std::max(two_tails, 1e-300)), 25.0);
}

}  // namespace

std::vector<int> gale_church_one_to_one(const std::vector<double>& ls,
                                        const std::vector<double>& lt, double ratio,
                                        double variance) {
  const size_t n = ls.size(), m = lt.size(), w = m + 1;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> cost((n + 1) * w, inf);
  std::vector<int> back((n + 1) * w, -1);  // index into kBeads of the best last bead
  cost[0] = 0.0;
  for (size_t i = 0; i <= n; ++i) {
    for (size_t j = 0; j <= m; ++j) {
      for (int b = 0; b < 5; ++b) {
        const Bead& bead = kBeads[b];
        if (i < size_t(bead.di) || j < size_t(bead.dj)) continue;
        size_t pi = i - bead.di, pj = j - bead.dj;
        if (cost[pi * w + pj] == inf) continue;
        double a = 0, c = 0;
        for (size_t k = pi; k < i; ++k) a += ls[k];
        for (size_t k = pj; k < j; ++k) c += lt[k];
        double total = cost[pi * w + pj] + bead_cost(a, c, ratio, variance, bead.prior);
        if (total < cost[i * w + j]) {
          cost[i * w + j] = total;
          back[i * w + j] = b;
        }
      }
    }
  }
  std::vector<int> match(n, -1);
  for (size_t i = n, j = m; i > 0 || j > 0;) {
    const Bead& bead = kBeads[back[i * w + j]];
    if (bead.di == 1 && bead.dj == 1) match[i - 1] = static_cast<int>(j - 1);
    i -= bead.di;
    j -= bead.dj;
  }
  return match;
}

std::vector<VersePair> align_verses(const std::vector<Verse>& src, const std::vector<Verse>& tgt,
                                    const AlignOptions& options, AlignStats* stats) {
  AlignStats st;
  Chapters src_ch = by_chapter(src), tgt_ch = by_chapter(tgt);

  // Windows of chapters aligned together: a chapter with a versification break (its last verse
  // with text differs between the texts) is joined by the next chapter of the same book.
  std::vector<std::vector<ChapterKey>> windows;
  bool join_next = false;
  for (const auto& [key, sv] : src_ch) {
    auto it = tgt_ch.find(key);
    bool has_break = it != tgt_ch.end() && sv.back()->ref.verse != it->second.back()->ref.verse;
    st.breaks += has_break;
    if (join_next && windows.back().back().first == key.first) windows.back().push_back(key);
    else windows.push_back({key});
    join_next = options.bridge_breaks && has_break;
  }

  // Candidate pairs: equal references, both with text (both lists are sorted).
  std::vector<std::pair<const Verse*, const Verse*>> candidates;
  for (size_t i = 0, j = 0; i < src.size() && j < tgt.size();) {
    if (src[i].ref < tgt[j].ref) ++i;
    else if (tgt[j].ref < src[i].ref) ++j;
    else candidates.push_back({&src[i++], &tgt[j++]});
  }
  st.common = static_cast<int64_t>(candidates.size());

  // Length model: c from the totals, s2 from the median, so that the misaligned pairs we are
  // looking for do not inflate it.
  double sum_s = 0, sum_t = 0;
  for (auto [s, t] : candidates) sum_s += char_count(s->text), sum_t += char_count(t->text);
  st.length_ratio = sum_s > 0 ? sum_t / sum_s : 1.0;
  std::vector<double> z;
  for (auto [s, t] : candidates) {
    double ls = char_count(s->text), lt = char_count(t->text), d = lt - st.length_ratio * ls;
    z.push_back(d * d / ls);
  }
  if (!z.empty()) {
    std::nth_element(z.begin(), z.begin() + z.size() / 2, z.end());
    st.length_variance = z[z.size() / 2] / 0.454936;  // median of chi-square(1)
  }
  st.length_variance = std::max(st.length_variance, 1e-6);

  // The 1-1 beads of the Gale-Church alignment of each window, as (src ref, tgt ref).
  std::set<std::pair<VerseRef, VerseRef>> one_to_one;
  for (const auto& window : windows) {
    std::vector<const Verse*> sv, tv;
    for (const ChapterKey& key : window) {
      sv.insert(sv.end(), src_ch[key].begin(), src_ch[key].end());
      if (auto it = tgt_ch.find(key); it != tgt_ch.end())
        tv.insert(tv.end(), it->second.begin(), it->second.end());
    }
    std::vector<double> ls, lt;
    for (const Verse* v : sv) ls.push_back(char_count(v->text));
    for (const Verse* v : tv) lt.push_back(char_count(v->text));
    std::vector<int> match = gale_church_one_to_one(ls, lt, st.length_ratio, st.length_variance);
    for (size_t k = 0; k < sv.size(); ++k)
      if (match[k] >= 0) one_to_one.insert({sv[k]->ref, tv[match[k]]->ref});
  }

  std::vector<VersePair> pairs;
  for (auto [s, t] : candidates) {
    if (options.length_check && !one_to_one.count({s->ref, t->ref})) {
      st.dropped.push_back(s->ref);
      continue;
    }
    pairs.push_back({s->ref, s->text, t->text});
  }
  st.kept = static_cast<int64_t>(pairs.size());
  if (stats) *stats = std::move(st);
  return pairs;
}

}  // namespace fwp::data
