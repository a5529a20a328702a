// CLI11 checks for the numeric options of the programs. CLI::PositiveNumber and
// CLI::NonNegativeNumber let "nan" through (NaN < 0 is false) and take "inf" as a number; a NaN
// learning rate, clip or length limit then runs silently wrong. These refuse both, with a message
// that CLI11 prefixes with the option's name:  --clip: nan is not a finite number >= 0
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

namespace fwp::experiments {

namespace detail {
// Finite numbers >= lower (> lower when strict).
inline CLI::Validator finite_number(double lower, bool strict, const std::string& what) {
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(input, v) || !std::isfinite(v) ||
            (strict ? v <= lower : v < lower))
          return input + " is not " + what;
        return std::string();
      },
      "FINITE");
}
}  // namespace detail

inline const CLI::Validator kPositive = detail::finite_number(0, true, "a finite number > 0");
inline const CLI::Validator kNonNegative = detail::finite_number(0, false, "a finite number >= 0");
inline const CLI::Validator kFinite = detail::finite_number(-HUGE_VAL, false, "a finite number");

}  // namespace fwp::experiments
