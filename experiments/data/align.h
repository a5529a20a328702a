// Verse-aligned pairs from two translations of the Bible (source and target language).
// The one idea: pairing by reference (same book, chapter, verse) is right almost everywhere,
// but the two modules do not always number verses alike. spaRV1909eb follows the Hebrew
// chapter breaks in a few places (its Numbers 13:1 is the WEB's 12:16, its Jonah 2:1 the WEB's
// 1:17), merges a chapter's last verse into the one before (2 Samuel 20:25-26), and divides a
// few chapters differently inside (1 Kings 22, 1 Chronicles 21), so a pair with equal
// references can hold two different verses. We therefore check every pair with the
// Gale-Church (1993) length-based aligner: it aligns the two verse sequences from their lengths
// in characters (beads 1-1, 1-0, 0-1, 2-1, 1-2), and a pair is kept only if the alignment
// joins exactly these two verses 1-1. The aligner runs per chapter, except that a chapter whose
// last verse with text differs between the texts (a versification break: one text moved its
// final verses into the previous verse or into the next chapter) is aligned together with the
// following chapter(s), so that a shift across the chapter boundary is seen as a shift.
// What the check drops is returned, so it can be written out and audited.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/data/bible.h"

namespace fwp::data {

struct VersePair {
  VerseRef ref;
  std::string src, tgt;
};

struct AlignOptions {
  bool length_check = true;    // false: keep every pair with equal references
  bool bridge_breaks = true;   // align a chapter with a versification break with the next one
};

struct AlignStats {
  int64_t common = 0;   // references with text in both
  int64_t breaks = 0;   // chapters with a versification break
  int64_t kept = 0;
  double length_ratio = 0.0;     // c: target characters per source character
  double length_variance = 0.0;  // s2: variance of (lt - c ls) per source character
  std::vector<VerseRef> dropped;  // every removed reference, in order
};

// Pairs in reference order. `src` and `tgt` must each be sorted by reference.
std::vector<VersePair> align_verses(const std::vector<Verse>& src, const std::vector<Verse>& tgt,
                                    const AlignOptions& options = {}, AlignStats* stats = nullptr);

// Gale-Church alignment of two length sequences: returns, for each source index, the target
// index it is joined to by a 1-1 bead, or -1. `ratio` and `variance` as in AlignStats.
std::vector<int> gale_church_one_to_one(const std::vector<double>& src_lengths,
                                        const std::vector<double>& tgt_lengths, double ratio,
                                        double variance);

}  // namespace fwp::data
