// SIMD helpers shared by the fast-weight CPU kernels (delta, sum, gated, FWM, chunkwise rules,
// softmax attention, small_gemm). Vec<Real> is one SIMD register of Real, written with the
// GCC/Clang vector extension: + - * act lane-wise and `s * v` broadcasts a scalar, so kernels read
// like the math (`acc[c] += g * W[c]`). Rows of state are padded with zeros to whole vectors.
// Row widths are compile-time constants wherever possible (with_vec_count; blocks of at most
// Max vectors: with_block_vec_count), so the loops over a row unroll completely and
// accumulators stay in registers; other widths run the same code with a runtime count (0).
//
// ONE source, several instruction sets. The register width is chosen HERE, at compile time, from
// the target the compiler was given (the one place that decides it):
//     AVX-512F               64 bytes (16 floats), 32 vector registers
//     AVX2 + FMA             32 bytes ( 8 floats), 16 vector registers
//     NEON (AArch64)         16 bytes ( 4 floats), 32 vector registers
//     SSE2 / anything else   16 bytes ( 4 floats), 16 vector registers
// A Vec wider than the machine's registers would be split by the compiler into several registers
// and spilled (on AVX2 a 64-byte Vec made the delta rule 9x slower, docs/RESULTS.md), so it
// always matches them.
// kernels/CMakeLists.txt compiles every file that includes this header once per instruction set
// (sse2, avx2 and avx512 on x86-64; neon on AArch64), each copy inside its own namespace
// fwp::kernels::FWP_SIMD_ISA, and kernels/cpu/simd_dispatch.cpp calls the best copy the CPU runs
// (kernels/cpu/simd_isa.h). Everything in this header lives in that namespace too: the copies
// for different widths must never be mixed up by the linker.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#ifndef FWP_SIMD_ISA
#error "kernels/cpu/simd.h is for the SIMD kernel sources, compiled once per instruction set with -DFWP_SIMD_ISA=<name> (kernels/CMakeLists.txt)"
#endif

namespace fwp::kernels::FWP_SIMD_ISA {

#if defined(__AVX512F__)
inline constexpr int kVecBytes = 64, kVecRegisters = 32;
inline constexpr const char* kIsaName = "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr int kVecBytes = 32, kVecRegisters = 16;
inline constexpr const char* kIsaName = "avx2";
#elif defined(__aarch64__)
inline constexpr int kVecBytes = 16, kVecRegisters = 32;
inline constexpr const char* kIsaName = "neon";
#elif defined(__SSE2__)
inline constexpr int kVecBytes = 16, kVecRegisters = 16;
inline constexpr const char* kIsaName = "sse2";
#else
inline constexpr int kVecBytes = 16, kVecRegisters = 16;
inline constexpr const char* kIsaName = "generic";
#endif
// A copy compiled without its instruction set's flags would silently get narrower vectors.
#define FWP_SIMD_STR2(x) #x
#define FWP_SIMD_STR(x) FWP_SIMD_STR2(x)
static_assert(std::string_view(kIsaName) == FWP_SIMD_STR(FWP_SIMD_ISA),
              "the compiler flags of this SIMD copy do not enable its instruction set");
#undef FWP_SIMD_STR
#undef FWP_SIMD_STR2

template <typename Real>
struct VecOf {
  typedef Real type __attribute__((vector_size(kVecBytes)));
};
template <typename Real> using Vec = typename VecOf<Real>::type;
template <typename Real> constexpr int64_t kLanes = kVecBytes / sizeof(Real);

// Vectors of a block of a state row whose accumulators must stay in registers for a whole pass
// over the state (forward column blocks, the wide backward's column chunks, small_gemm tiles):
// a loop body holds 4-6 of them per vector of the block, so 4 fit in 32 registers and 2 in 16.
inline constexpr int kBlockVecs = kVecRegisters >= 32 ? 4 : 2;

// Number of Vec<Real> needed for n values, and n rounded up to whole vectors.
template <typename Real> int64_t vec_count(int64_t n) { return (n + kLanes<Real> - 1) / kLanes<Real>; }
template <typename Real> int64_t padded(int64_t n) { return vec_count<Real>(n) * kLanes<Real>; }

// Sum of the lanes, as a tree: the upper half is added to the lower half until one lane is left
// (log2(lanes) shuffle + add levels; for 16 floats ((b0 + b2) + (b1 + b3)) at the end).
namespace detail {
template <typename Real, int L>
struct LanesOf {
  typedef Real type __attribute__((vector_size(L * sizeof(Real))));
};
template <typename Real, int L, typename V, size_t... I>
[[gnu::always_inline]] inline typename LanesOf<Real, L / 2>::type fold_halves(
    V v, std::index_sequence<I...>) {
  return __builtin_shufflevector(v, v, I...) + __builtin_shufflevector(v, v, (I + L / 2)...);
}
template <typename Real, int L>
[[gnu::always_inline]] inline Real hsum_lanes(typename LanesOf<Real, L>::type v) {
  if constexpr (L == 2) {
    return v[0] + v[1];
  } else {
    return hsum_lanes<Real, L / 2>(fold_halves<Real, L>(v, std::make_index_sequence<L / 2>{}));
  }
}
}  // namespace detail
[[gnu::always_inline]] inline float hsum(Vec<float> v) {
  return detail::hsum_lanes<float, kLanes<float>>(v);
}
[[gnu::always_inline]] inline double hsum(Vec<double> v) {
  return detail::hsum_lanes<double, kLanes<double>>(v);
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

// Calls fn(CountTag<N>{}) with N = min(n, Max) (n >= 1): the vector count of a block of at most
// Max vectors (a column block of the delta and sum forwards, a chunk of the wide delta backward),
// fixed so that the block's loops unroll. Call as with_block_vec_count<Max>(n, fn).
template <int Max, typename Fn>
void with_block_vec_count(int64_t n, Fn&& fn) {
  if constexpr (Max == 1) {
    fn(CountTag<1>{});
  } else if (n >= Max) {
    fn(CountTag<Max>{});
  } else {
    with_block_vec_count<Max - 1>(n, fn);
  }
}

}  // namespace fwp::kernels::FWP_SIMD_ISA
