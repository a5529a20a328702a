// Corpus BLEU with sacreBLEU 2.x's conventions (see bleu.h). The arithmetic follows
// sacrebleu/metrics/bleu.py line by line (same operations in the same order), so on the same
// machine the scores agree bit for bit, not only to the printed precision.
#include "experiments/data/bleu.h"

#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "core/error.h"
#include "experiments/data/utf8.h"

namespace fwp::data {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  size_t i = 0;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, i)) {
    out.append(s, i, p - i);
    out += to;
    i = p + from.size();
  }
  out.append(s, i, std::string::npos);
  s = std::move(out);
}

// Rule 1 of 13a: the ASCII class [{-~[-` -&(-+:-@/] gets a space on each side.
bool spaced_symbol(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
         (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}
bool is_digit_byte(char c) { return c >= '0' && c <= '9'; }
bool is_point(char c) { return c == '.' || c == ','; }

// The three two-character rules of 13a, each a left-to-right scan with non-overlapping matches
// exactly like Python's re.sub. Working on bytes instead of code points gives the same output:
// the patterns only ever match ASCII bytes next to a character they copy unchanged.
std::string point_after_nondigit(const std::string& s) {  // ([^0-9])([\.,]) -> "\1 \2 "
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && !is_digit_byte(s[i]) && is_point(s[i + 1])) {
      out += s[i]; out += ' '; out += s[i + 1]; out += ' ';
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}
std::string point_before_nondigit(const std::string& s) {  // ([\.,])([^0-9]) -> " \1 \2"
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && is_point(s[i]) && !is_digit_byte(s[i + 1])) {
      out += ' '; out += s[i]; out += ' '; out += s[i + 1];
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}
std::string dash_after_digit(const std::string& s) {  // ([0-9])(-) -> "\1 \2 "
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && is_digit_byte(s[i]) && s[i + 1] == '-') {
      out += s[i]; out += " - ";
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// Python's str.split() (on Unicode whitespace).
std::vector<std::string> split_python(std::string_view s) {
  std::vector<std::string> words;
  std::string cur;
  for (size_t i = 0; i < s.size();) {
    CodePoint cp = decode_at(s, i);
    if (is_python_space(cp.value)) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.append(s.substr(i, cp.length));
    }
    i += cp.length;
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

// Python's str.rstrip().
std::string_view rstrip_python(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    CodePointBefore cp = decode_before(s, end);
    if (!is_python_space(cp.value)) break;
    end = cp.start;
  }
  return s.substr(0, end);
}

using NgramCounts = std::unordered_map<std::string, int64_t>;

// All n-grams of orders 1..4 (tokens joined by spaces) and the number of tokens.
NgramCounts ngrams(const std::vector<std::string>& tokens) {
  NgramCounts counts;
  for (size_t n = 1; n <= 4; ++n)
    for (size_t i = 0; i + n <= tokens.size(); ++i) {
      std::string g = tokens[i];
      for (size_t k = 1; k < n; ++k) g += ' ' + tokens[i + k];
      ++counts[g];
    }
  return counts;
}

int order_of(const std::string& ngram) {
  int n = 1;
  for (char c : ngram) n += c == ' ';
  return n;
}

double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

}  // namespace

std::string tokenize_13a(std::string_view input) {
  std::string line(input);
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  std::string spaced = " ";
  for (char c : line) {
    if (spaced_symbol(c)) { spaced += ' '; spaced += c; spaced += ' '; }
    else spaced += c;
  }
  spaced += ' ';
  std::string s = dash_after_digit(point_before_nondigit(point_after_nondigit(spaced)));
  std::string out;
  for (const std::string& w : split_python(s)) out += (out.empty() ? "" : " ") + w;
  return out;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options) {
  FWP_CHECK(!refs.empty(), "corpus_bleu: at least one reference set is needed");
  for (size_t k = 0; k < refs.size(); ++k)
    FWP_CHECK(refs[k].size() == hyps.size(), "corpus_bleu: reference set ", k, " has ",
              refs[k].size(), " lines but there are ", hyps.size(), " hypotheses");
  auto tokens = [&](const std::string& s) {
    return split_python(options.tokenize ? tokenize_13a(rstrip_python(s)) : s);
  };
  BleuScore r;
  for (size_t i = 0; i < hyps.size(); ++i) {
    NgramCounts ref_max;  // per n-gram, the maximum count over the references
    int64_t hyp_len = 0, closest = -1, closest_diff = -1;
    std::vector<std::string> h = tokens(hyps[i]);
    hyp_len = static_cast<int64_t>(h.size());
    for (const auto& set : refs) {
      std::vector<std::string> t = tokens(set[i]);
      for (const auto& [g, c] : ngrams(t)) ref_max[g] = std::max(ref_max[g], c);
      int64_t len = static_cast<int64_t>(t.size()), diff = std::llabs(hyp_len - len);
      if (closest_diff == -1 || diff < closest_diff) closest_diff = diff, closest = len;
      else if (diff == closest_diff && len < closest) closest = len;
    }
    r.hyp_len += hyp_len;
    r.ref_len += closest;
    for (const auto& [g, c] : ngrams(h)) {
      int n = order_of(g) - 1;
      r.total[n] += c;
      if (auto it = ref_max.find(g); it != ref_max.end()) r.correct[n] += std::min(c, it->second);
    }
  }
  // sacrebleu BLEU.compute_bleu, in the same order of operations.
  r.bp = 1.0;
  if (r.hyp_len < r.ref_len)
    r.bp = r.hyp_len > 0 ? std::exp(1.0 - double(r.ref_len) / double(r.hyp_len)) : 0.0;
  r.ratio = r.ref_len ? double(r.hyp_len) / double(r.ref_len) : 0.0;
  bool any_correct = false;
  for (int64_t c : r.correct) any_correct = any_correct || c != 0;
  if (!any_correct) return r;
  double smooth_mteval = 1.0;
  for (int n = 0; n < 4; ++n) {
    if (r.total[n] == 0) break;
    if (r.correct[n] == 0) {
      if (options.smoothing == BleuSmoothing::exp) {
        smooth_mteval *= 2;
        r.precisions[n] = 100.0 / (smooth_mteval * double(r.total[n]));
      }
    } else {
      r.precisions[n] = 100.0 * double(r.correct[n]) / double(r.total[n]);
    }
  }
  double sum = 0.0;
  for (double p : r.precisions) sum += my_log(p);
  r.score = r.bp * std::exp(sum / 4);
  return r;
}

std::string BleuScore::str() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld "
                "ref_len = %lld)",
                score, precisions[0], precisions[1], precisions[2], precisions[3], bp, ratio,
                static_cast<long long>(hyp_len), static_cast<long long>(ref_len));
  return buf;
}

}  // namespace fwp::data
