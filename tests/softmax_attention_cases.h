// The attention problems of the fused softmax attention tests: the kernels against their naive
// twins (tests/core/test_softmax_attention_kernels.cpp) and the op
// (tests/layers/test_softmax_attention.cpp).
#pragma once
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace fwp_test {

using fwp::DType;
using fwp::Rng;
using fwp::Tensor;

// One attention problem: sizes and mask. key_valid rows: batch b masks key j when (b + j) % 3
// == 2, and with all_masked_batch, batch 0 masks every key.
struct Case {
  int64_t B, H, T, S, Dk, Dv;
  bool causal;
  int64_t offset;
  bool padded;
  bool all_masked_batch = false;
};

inline Tensor key_valid_of(const Case& c) {
  if (!c.padded) return Tensor();
  std::vector<double> m(c.B * c.S);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t j = 0; j < c.S; ++j)
      m[b * c.S + j] = (c.all_masked_batch && b == 0) || (b + j) % 3 == 2 ? 0.0 : 1.0;
  return Tensor::from_vector(m, {c.B, c.S}, DType::f64);
}

inline std::vector<Tensor> inputs_of(const Case& c, uint64_t seed, DType dt) {
  Rng rng(seed);
  return {Tensor::randn({c.B, c.H, c.T, c.Dk}, rng, dt), Tensor::randn({c.B, c.H, c.S, c.Dk}, rng, dt),
          Tensor::randn({c.B, c.H, c.S, c.Dv}, rng, dt)};
}

inline const std::vector<Case> kCases = {
    {1, 1, 1, 1, 1, 1, true, 0, false},
    {2, 3, 5, 5, 3, 7, true, 0, false},     // odd sizes, causal
    {1, 2, 70, 70, 16, 16, true, 0, false},  // more than one block of 64 query rows
    {2, 1, 4, 7, 5, 3, true, 3, false},     // generation: 3 earlier keys before the first query
    {3, 2, 4, 9, 20, 5, false, 0, true},    // cross attention over padded keys
    {2, 2, 6, 6, 4, 4, true, 0, true, true},  // batch 0 sees no key at all
};

}  // namespace fwp_test
