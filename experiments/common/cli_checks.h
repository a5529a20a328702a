// CLI11 checks for the numeric options of the programs: every number a program takes is declared
// with one of these, next to its add_option (the one place per program where its inputs are
// validated; tests/docs/check_help_defaults.py --ranges fails on a numeric option without one).
// CLI::PositiveNumber and CLI::NonNegativeNumber let "nan" through (NaN < 0 is false) and take
// "inf" as a number; a NaN learning rate, clip or length limit then runs silently wrong, and an
// unbounded count (--steps 9e18) overflows the arithmetic that uses it. These refuse both, with
// a message that CLI11 prefixes with the option's name:  --clip: nan is not a finite number >= 0
#pragma once
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <iostream>
#include <new>
#include <string>

#include "core/error.h"
#include "experiments/common/run_utils.h"

namespace fwp::experiments {

namespace detail {
// Finite numbers >= lower (> lower when strict) and <= upper.
inline CLI::Validator finite_number(double lower, bool strict, double upper, const std::string& what,
                                    const std::string& name) {
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(input, v) || !std::isfinite(v) ||
            (strict ? v <= lower : v < lower) || v > upper)
          return input + " is not " + what;
        return std::string();
      },
      name);
}
}  // namespace detail

inline const CLI::Validator kPositive =
    detail::finite_number(0, true, HUGE_VAL, "a finite number > 0", "FINITE>0");
inline const CLI::Validator kNonNegative =
    detail::finite_number(0, false, HUGE_VAL, "a finite number >= 0", "FINITE>=0");
inline const CLI::Validator kFinite =
    detail::finite_number(-HUGE_VAL, false, HUGE_VAL, "a finite number", "FINITE");

// A real number in [lo, hi] (NaN and inf refused).
inline CLI::Validator real_in(double lo, double hi) {
  const std::string range = cat("[", lo, ", ", hi, "]");
  return detail::finite_number(lo, false, hi, "a finite number in " + range, "IN" + range);
}

// A whole number in [lo, hi], written as digits (no fraction, no exponent).
inline CLI::Validator count_in(long long lo, long long hi) {
  const std::string range = cat("[", lo, ", ", hi, "]");
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        long long v = 0;
        const char* end = input.data() + input.size();
        auto r = std::from_chars(input.data(), end, v);
        if (r.ec != std::errc() || r.ptr != end || v < lo || v > hi)
          return input + " is not an integer in " + range;
        return std::string();
      },
      "IN" + range);
}

// Common bounds: sizes of a model (widths, heads, layers), counts of steps and tokens. They keep
// every product the programs form (steps x batch x context, ...) far inside int64.
inline constexpr long long kMaxSize = 1 << 16;        // a width, a head count, a batch
inline constexpr long long kMaxLength = 1 << 20;      // a context, a length, a token count per step
inline constexpr long long kMaxSteps = 1'000'000'000;  // steps, intervals
inline constexpr long long kMaxTokens = 1'000'000'000'000;  // token budgets
inline constexpr long long kMaxSeed = 9'223'372'036'854'775'807;  // any non-negative int64

// A refused option is one line on stderr, like every other error of the program:
//   fwp-lm: error: --batch: 0 is not an integer in [1, 65536] (--help lists the options)
inline void one_line_errors(CLI::App& app, const std::string& program) {
  app.failure_message([program](const CLI::App*, const CLI::Error& e) {
    return program + ": error: " + e.what() + " (--help lists the options)\n";
  });
}

// CLI11_PARSE, but every refused command line exits with status 1 like every other error of the
// programs (CLI11's own codes are 105, 106, 109, ...); --help still exits with 0.
#define FWP_CLI_PARSE(app, argc, argv)                \
  try {                                               \
    (app).parse((argc), (argv));                      \
  } catch (const CLI::ParseError& fwp_cli_error) {    \
    return (app).exit(fwp_cli_error) == 0 ? 0 : 1;    \
  }

// A program's main: runs `body` and turns whatever it throws into one line on stderr and exit
// status 1 ("<program>: error: ..."), so no exception ends a program with a signal. The run
// folders are left as they were before the run, or at its last checkpoint (run_utils.h).
template <typename Body>
int guarded_main(const char* program, Body&& body) {
  auto fail = [program](const std::string& what) {
    restore_run_folders();
    std::string line = what;
    for (char& ch : line)
      if (ch == '\n') ch = ' ';
    std::cerr << program << ": error: " << line << std::endl;
    return 1;
  };
  try {
    return body();
  } catch (const fwp::Error& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory (the sizes asked for do not fit this machine)");
  } catch (const std::exception& e) {
    return fail(cat("unexpected ", e.what()));
  } catch (...) {
    return fail("unexpected exception");
  }
}

}  // namespace fwp::experiments
