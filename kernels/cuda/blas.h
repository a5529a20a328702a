// Matrix products on the device, row-major, the twin of kernels/cpu/blas.h: cuBLAS when it can be
// initialised, else (or when FWP_CUDA_GEMM=own is set) fwp's own tiled GEMM. FWP_CUDA_GEMM=cublas
// insists on cuBLAS and makes its absence an error. cuBLAS is opened at run time (libcublas.so),
// never linked, so a machine or an emulator without it runs the own kernel.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// C = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T, all pointers on the device.
// op(A) is (M, K), op(B) is (K, N), C is (M, N); lda/ldb/ldc are row strides of the stored
// matrices. With beta == 0, C is never read (it may hold NaN).
template <typename T>
void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The own tiled kernel alone, whatever FWP_CUDA_GEMM says (the tests hold it to the CPU twin).
template <typename T>
void gemm_cuda_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// "cublas" or "own": what gemm_cuda uses (decided at its first call, from FWP_CUDA_GEMM and
// whether cuBLAS initialises).
const char* gemm_cuda_backend();

}  // namespace fwp::kernels
