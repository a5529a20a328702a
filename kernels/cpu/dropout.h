// Inverted dropout with a counter-based random mask:
//   out_i = inp_i * keep_i / (1 - p),   keep_i = [u_i >= p],   u_i = hash(seed, i) in [0, 1)
// u_i depends only on (seed, i), so the mask is the same for any thread count, and the backward
// regenerates it instead of storing it: dinp_i = dout_i * keep_i / (1 - p) is dropout_forward
// applied to dout with the same p and seed (so there is no separate backward kernel).
// hash is splitmix64's output function (Vigna), 53 bits per element. p = 1 drops everything.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out, inp are (n); out may alias inp. 0 <= p <= 1 (checked by the caller).
template <typename T>
void dropout_forward(T* out, const T* inp, int64_t n, double p, uint64_t seed);

// Reference: one element at a time, the uniform u_i compared as a double, no threads.
template <typename T>
void dropout_forward_naive(T* out, const T* inp, int64_t n, double p, uint64_t seed);

}  // namespace fwp::kernels
