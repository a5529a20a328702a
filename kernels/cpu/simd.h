// SIMD helpers shared by the fast-weight CPU kernels (delta, sum, gated, FWM, chunkwise rules).
// Vec<Real> is one 64-byte SIMD register of Real (16 floats or 8 doubles), written with the
// GCC/Clang vector extension: + - * act lane-wise and `s * v` broadcasts a scalar, so kernels read
// like the math (`acc[c] += g * W[c]`). The compiler maps it to one AVX-512 register, two AVX2
// registers or four SSE/NEON ones. Rows of state are padded with zeros to whole vectors.
// Row widths are compile-time constants wherever possible (with_vec_count; blocks of at most 4
// vectors: with_block_vec_count), so the loops over a row unroll completely and
// accumulators stay in registers; other widths run the same code with a runtime count (0).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace fwp::kernels {

template <typename Real>
struct VecOf {
  typedef Real type __attribute__((vector_size(64)));
};
template <typename Real> using Vec = typename VecOf<Real>::type;
template <typename Real> constexpr int64_t kLanes = 64 / sizeof(Real);

// Number of Vec<Real> needed for n values, and n rounded up to whole vectors.
template <typename Real> int64_t vec_count(int64_t n) { return (n + kLanes<Real> - 1) / kLanes<Real>; }
template <typename Real> int64_t padded(int64_t n) { return vec_count<Real>(n) * kLanes<Real>; }

// Sum of the lanes, as a tree (log2(lanes) shuffle + add levels).
inline float hsum(Vec<float> v) {
  typedef float V8 __attribute__((vector_size(32)));
  typedef float V4 __attribute__((vector_size(16)));
  V8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
         __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  V4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}
inline double hsum(Vec<double> v) {
  typedef double V4 __attribute__((vector_size(32)));
  typedef double V2 __attribute__((vector_size(16)));
  V4 a = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  V2 b = __builtin_shufflevector(a, a, 0, 1) + __builtin_shufflevector(a, a, 2, 3);
  return b[0] + b[1];
}

// Unaligned load and store of one vector (a fixed-size memcpy compiles to one instruction).
template <typename Real>
Vec<Real> loadu(const Real* p) {
  Vec<Real> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename Real>
void storeu(Real* p, Vec<Real> v) {
  std::memcpy(p, &v, sizeof(v));
}

// dst[0 .. vec_count(n)) = the n values of src, zero-padded to whole vectors.
template <typename Real>
void load_row(Vec<Real>* dst, const Real* src, int64_t n) {
  const int64_t full = n / kLanes<Real>, rest = n % kLanes<Real>;
  for (int64_t c = 0; c < full; ++c) dst[c] = loadu(src + c * kLanes<Real>);
  if (rest) {
    Vec<Real> v{};
    std::memcpy(&v, src + full * kLanes<Real>, rest * sizeof(Real));
    dst[full] = v;
  }
}

// dst[0 .. n) = the first n values of the vectors src.
template <typename Real>
void store_row(Real* dst, const Vec<Real>* src, int64_t n) {
  const int64_t full = n / kLanes<Real>, rest = n % kLanes<Real>;
  for (int64_t c = 0; c < full; ++c) storeu(dst + c * kLanes<Real>, src[c]);
  if (rest) std::memcpy(dst + full * kLanes<Real>, &src[full], rest * sizeof(Real));
}

// a . b over n values with lane-parallel partial sums. (A plain loop adds in order: a chain of n
// dependent adds whose latency stalls the whole step.)
template <typename Real>
Real dot(const Real* a, const Real* b, int64_t n) {
  Vec<Real> acc{};
  int64_t i = 0;
  for (; i + kLanes<Real> <= n; i += kLanes<Real>) acc += loadu(a + i) * loadu(b + i);
  Real s = hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// hsum_rows: the horizontal sums of kLanes vectors at once, returned as the lanes of one vector
// (lane r = sum of the lanes of p[r]). Each level adds pairs of vectors after interleaving their
// halves, halving both the number of vectors and the partial sums per row: for 16 floats,
// 8 + 4 + 2 + 1 = 15 adds and twice as many shuffles for 16 rows, against 4 adds and 4 shuffles
// PER ROW for separate hsum() calls.
namespace detail {
// Source lane (0..2L-1 over the pair x, y) of output lane o: the first half of the output comes
// from x, the second from y; within each, the lower `block` lanes of every 2*block group.
constexpr int fold_source(int L, int block, int o) {
  const int from_y = o / (L / 2), p = o % (L / 2);
  return from_y * L + (p / block) * 2 * block + p % block;
}
template <typename Real, int Block, size_t... O>
[[gnu::always_inline]] inline Vec<Real> fold_pair(Vec<Real> x, Vec<Real> y, std::index_sequence<O...>) {
  constexpr int L = kLanes<Real>;
  return __builtin_shufflevector(x, y, fold_source(L, Block, O)...) +
         __builtin_shufflevector(x, y, (fold_source(L, Block, O) + Block)...);
}
template <typename Real, int Block>
[[gnu::always_inline]] inline void fold_level(Vec<Real>* p) {
  for (int r = 0; r < Block; ++r)  // 2 * Block vectors in, Block out
    p[r] = fold_pair<Real, Block>(p[2 * r], p[2 * r + 1], std::make_index_sequence<kLanes<Real>>{});
  if constexpr (Block > 1) fold_level<Real, Block / 2>(p);
}
}  // namespace detail

// p holds kLanes vectors and is overwritten. Call as hsum_rows<Real>(p).
template <typename Real>
[[gnu::always_inline]] inline Vec<Real> hsum_rows(Vec<Real>* p) {
  detail::fold_level<Real, kLanes<Real> / 2>(p);
  return p[0];
}

// Threads for BH independent sequences: the kernels run a team of this size and give each thread
// its own slice of the workspace, so *_workspace_size and the kernels must agree on it.
inline int team_size(int64_t BH) {
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(BH, 1), omp_get_max_threads()));
}

template <int N> using CountTag = std::integral_constant<int, N>;

// Calls fn(CountTag<N>{}) with N = n for the counts worth specialising (rows of 16/32/48/64/128
// floats or 8/16/24/32/64 doubles), else with N = 0 (runtime count).
template <typename Fn>
void with_vec_count(int64_t n, Fn&& fn) {
  switch (n) {
    case 1: return fn(CountTag<1>{});
    case 2: return fn(CountTag<2>{});
    case 3: return fn(CountTag<3>{});
    case 4: return fn(CountTag<4>{});
    case 8: return fn(CountTag<8>{});
    default: return fn(CountTag<0>{});
  }
}

// Calls fn(CountTag<N>{}) with N = n for n = 1, 2, 3, else with N = 4: the vector count of a block
// of at most 4 vectors (a column block of the delta and sum forwards, a chunk of the wide delta
// backward), fixed so that the block's loops unroll.
template <typename Fn>
void with_block_vec_count(int64_t n, Fn&& fn) {
  switch (n) {
    case 1: return fn(CountTag<1>{});
    case 2: return fn(CountTag<2>{});
    case 3: return fn(CountTag<3>{});
    default: return fn(CountTag<4>{});
  }
}

}  // namespace fwp::kernels
