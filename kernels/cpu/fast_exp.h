// fast_exp: an exp the compiler can vectorise (glibc's expf is a scalar call, ~4x slower here).
// The one idea: exp(x) = 2^n * exp(r) with n = round(x / ln 2) and |r| <= ln2/2, so exp(r) is a
// short polynomial and 2^n is written straight into a float's exponent bits.
// Accuracy: relative error at most 7.9e-8 (0.66 ulp of 1) wherever the result is >= FLT_MIN
// (checked once over every such float; tests/core/test_kernels_nn.cpp keeps a sweep against
// std::exp). exp(-inf) = 0 exactly, exp(+inf) = inf, NaN stays NaN, x < -104 gives 0.
// The double overload is std::exp: f64 is for exactness, not speed.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace fwp::kernels {

inline float fast_exp(float x) {
  const float hi = 88.7228391f;  // ln(FLT_MAX): above this exp overflows to inf
  const float lo = -104.0f;      // below ln(smallest denormal) exp rounds to 0
  float xc = x > hi ? hi : x;    // (comparisons, not std::min: NaN must pass through)
  xc = xc < lo ? lo : xc;
  // n = round(x * log2 e): adding 1.5 * 2^23 pushes the fraction bits out of the float, so the
  // float t holds n exactly and its low mantissa bits are n as an integer.
  const float magic = 12582912.0f;
  const float t = xc * 1.44269504088896341f + magic;
  const float n = t - magic;
  const int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(magic);
  // r = x - n ln2, with ln2 split in two so that n * ln2_hi is exact (Cody and Waite)
  const float r = (xc - n * 0.693359375f) - n * -2.12194440054690583e-4f;
  // exp(r) by its Taylor series to r^7/7!: the first dropped term is < 5e-9 for |r| <= ln2/2
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n as two normal powers of two (n ranges over [-150, 128], one factor alone cannot),
  // which also rounds tiny results into denormals gracefully
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  float y = p * std::bit_cast<float>((n1 + 127) << 23) * std::bit_cast<float>((n2 + 127) << 23);
  y = x > hi ? std::numeric_limits<float>::infinity() : y;
  y = x < lo ? 0.0f : y;
  return y;
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace fwp::kernels
