// fwp-bleu: corpus BLEU of a hypothesis file against one or more reference files, one segment
// per line, with sacreBLEU's conventions (experiments/data/bleu.h). Prints sacreBLEU's line, or
// with --json every statistic at full precision (what scripts/check_bleu.py compares).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "experiments/common/cli_checks.h"
#include "experiments/data/bleu.h"
#include "experiments/data/mt_data.h"

using namespace fwp::data;

int main(int argc, char** argv) {
  std::string hyp_path, smooth = "none";
  std::vector<std::string> ref_paths;
  bool json = false, no_tokenize = false, tokenize_only = false;
  CLI::App app{"fwp-bleu: corpus BLEU with sacreBLEU's 13a tokenizer (smoothing off by default)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  fwp::experiments::one_line_errors(app, "fwp-bleu");
  app.add_option("hyp", hyp_path, "hypothesis file")->required();
  app.add_option("--smooth", smooth, "none (default) or exp (sacreBLEU's default)")
      ->check(CLI::IsMember({"none", "exp"}));
  app.add_flag("--json", json, "print all statistics as JSON at full precision");
  app.add_flag("--no-tokenize", no_tokenize, "the text is already tokenized");
  app.add_flag("--tokenize-only", tokenize_only,
               "print the 13a tokenization of each hypothesis line and stop");
  app.add_option("refs", ref_paths, "reference file(s)");
  return fwp::experiments::guarded_main("fwp-bleu", [&] {
    FWP_CLI_PARSE(app, argc, argv);
    std::vector<std::string> hyps = read_lines(hyp_path);
    if (tokenize_only) {
      for (const std::string& h : hyps) std::cout << tokenize_13a(h) << "\n";
      return 0;
    }
    FWP_CHECK(!ref_paths.empty(), "fwp-bleu: no reference file given");
    std::vector<std::vector<std::string>> refs;
    for (const std::string& p : ref_paths) refs.push_back(read_lines(p));
    BleuOptions options;
    options.smoothing = smooth == "exp" ? BleuSmoothing::exp : BleuSmoothing::none;
    options.tokenize = !no_tokenize;
    BleuScore s = corpus_bleu(hyps, refs, options);
    if (!json) {
      std::cout << s.str() << "\n";
      return 0;
    }
    std::printf("{\"score\": %.17g, \"bp\": %.17g, \"ratio\": %.17g, \"hyp_len\": %lld, "
                "\"ref_len\": %lld, \"precisions\": [%.17g, %.17g, %.17g, %.17g], "
                "\"counts\": [%lld, %lld, %lld, %lld], \"totals\": [%lld, %lld, %lld, %lld], "
                "\"line\": \"%s\"}\n",
                s.score, s.bp, s.ratio, (long long)s.hyp_len, (long long)s.ref_len,
                s.precisions[0], s.precisions[1], s.precisions[2], s.precisions[3],
                (long long)s.correct[0], (long long)s.correct[1], (long long)s.correct[2],
                (long long)s.correct[3], (long long)s.total[0], (long long)s.total[1],
                (long long)s.total[2], (long long)s.total[3], s.str().c_str());
    return 0;
  });
}
