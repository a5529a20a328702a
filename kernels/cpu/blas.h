// Matrix products through OpenBLAS (cblas_sgemm / cblas_dgemm), row-major.
// Must not be called from inside an OpenMP parallel region: OpenBLAS runs its own threads.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// C = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T.
// op(A) is (M, K), op(B) is (K, N), C is (M, N); lda/ldb/ldc are row strides of the stored matrices.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The same product as three plain loops: the reference the tests compare gemm against.
template <typename T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace fwp::kernels
