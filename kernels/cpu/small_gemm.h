// Small matrix products for use INSIDE an OpenMP parallel region (BLAS must not be called there:
// OpenBLAS runs its own threads). Built for the chunkwise delta rule (kernels/delta_chunk.h),
// whose products are C x C x d and C x d x d with C, d <= a few hundred, all in L1/L2.
// One idea: a register tile of MR rows x NV vectors of the output accumulates
//   C[i, :] += A(i, s) * B[s, :]   over s,
// broadcasting one scalar of A per row and loading NV vectors of B per s (llm.c-style outer
// product micro-kernel). A is addressed by two strides, A(i, s) = A[i * a_rs + s * a_cs], so a
// transposed operand costs nothing; B and C are row-major. Structure known to the caller is
// skipped: a triangular op(A) shortens the s-range, a lower-triangular output skips tiles.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// Known zeros of op(A): none; lower (A(i, s) = 0 for s > i); upper (A(i, s) = 0 for s < i).
// The zeros must really be stored as zeros: tiles of several rows read a few of them.
enum class Tri { none, lower, upper };

// C (M, N) = alpha * op(A) (M, K) @ B (K, N) + (accumulate ? C : 0).
// N must be a multiple of the SIMD vector width (kLanes in kernels/cpu/simd.h; 64 bytes, i.e. 16
// floats or 8 doubles, suits every instruction set): callers pad rows with zeros (ldb, ldc >= N).
// Inside the SIMD kernels each instruction set's copy calls its own small_gemm
// (kernels/cpu/simd_kernels.h); this one forwards to the copy for the CPU (simd_isa.h). lower_out: only entries C[i, j] with j <= i are needed; tiles wholly above
// the diagonal are skipped and left as they were (entries above the diagonal inside a computed
// tile are written too, so the caller masks them).
template <typename Real>
void small_gemm(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs, const Real* B,
                int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha, bool accumulate,
                Tri a_tri = Tri::none, bool lower_out = false);

// The same as three plain loops over every entry (any N; a_tri and lower_out are ignored, the
// full product is computed): the reference small_gemm is tested against.
template <typename Real>
void small_gemm_naive(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs,
                      const Real* B, int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha,
                      bool accumulate);

}  // namespace fwp::kernels
