// Rng: a seeded random number generator that reproduces bit-for-bit on every machine.
// xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64; normals by Box-Muller.
// We do not use <random>'s distributions: their output is implementation-defined.
#pragma once
#include <cstdint>
#include <vector>

namespace fwp {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);

  uint64_t next_u64();
  double uniform();                       // [0, 1), 53 random bits
  double uniform(double lo, double hi);   // [lo, hi)
  double normal();                        // N(0, 1)
  int64_t randint(int64_t n);             // uniform in [0, n), unbiased
  std::vector<int64_t> permutation(int64_t n);  // Fisher-Yates shuffle of 0..n-1

  // Full generator state (for checkpoints): 4 words of xoshiro + Box-Muller cache.
  std::vector<uint64_t> state() const;
  void set_state(const std::vector<uint64_t>& st);

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace fwp
