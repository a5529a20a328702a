// Device matrix products (kernels/cuda/blas.h): cuBLAS through dlopen, or the own tiled GEMM.
// The own kernel: 32 x 32 tiles of C per block of 16 x 16 threads, each thread 2 x 2 outputs;
// tiles of op(A) and op(B) staged in shared memory, K walked 16 at a time. Every thread reaches
// every barrier (bounds only guard the loads and stores), so no barrier sits in divergent code.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "kernels/cuda/blas.h"
#include "kernels/cuda/check.h"

namespace fwp::kernels {

namespace {

constexpr int kTile = 32;   // rows and columns of C per block
constexpr int kStep = 16;   // K per shared-memory stage
constexpr int kThreads = 16;  // per block side; each thread does (kTile / kThreads)^2 outputs

template <typename T>
__global__ void gemm_tiled(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                           const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
                           int64_t ldc) {
  __shared__ T As[kStep][kTile + 1];  // As[k][m] = op(A)[m0 + m, k0 + k]
  __shared__ T Bs[kStep][kTile + 1];  // Bs[k][n] = op(B)[k0 + k, n0 + n]
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kThreads + tx;
  const int64_t m0 = int64_t(blockIdx.y) * kTile, n0 = int64_t(blockIdx.x) * kTile;
  T acc[2][2] = {{T(0), T(0)}, {T(0), T(0)}};
  for (int64_t k0 = 0; k0 < K; k0 += kStep) {
    for (int e = tid; e < kStep * kTile; e += kThreads * kThreads) {  // 2 elements per thread
      const int kk = e / kTile, mm = e % kTile;
      const int64_t m = m0 + mm, k = k0 + kk;
      T a = T(0);
      if (m < M && k < K) a = trans_a ? A[k * lda + m] : A[m * lda + k];
      As[kk][mm] = a;
      const int64_t n = n0 + mm;
      T b = T(0);
      if (n < N && k < K) b = trans_b ? B[n * ldb + k] : B[k * ldb + n];
      Bs[kk][mm] = b;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kStep; ++kk) {
      const T a0 = As[kk][ty], a1 = As[kk][ty + kThreads];
      const T b0 = Bs[kk][tx], b1 = Bs[kk][tx + kThreads];
      acc[0][0] += a0 * b0;
      acc[0][1] += a0 * b1;
      acc[1][0] += a1 * b0;
      acc[1][1] += a1 * b1;
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      const int64_t m = m0 + ty + i * kThreads, n = n0 + tx + j * kThreads;
      if (m < M && n < N) {
        T* c = C + m * ldc + n;
        *c = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
      }
    }
}

// cuBLAS, opened at run time.
using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using SgemmFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                   int, const float*, const float*, int, const float*, int,
                                   const float*, float*, int);
using DgemmFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                   int, const double*, const double*, int, const double*, int,
                                   const double*, double*, int);

struct Cublas {
  bool usable = false;
  std::string why_not;
  cublasHandle_t handle = nullptr;
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
};

Cublas open_cublas() {
  Cublas c;
  void* lib = dlopen("libcublas.so", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) lib = dlopen("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    c.why_not = "libcublas could not be opened";
    return c;
  }
  auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
  c.sgemm = reinterpret_cast<SgemmFn>(dlsym(lib, "cublasSgemm_v2"));
  c.dgemm = reinterpret_cast<DgemmFn>(dlsym(lib, "cublasDgemm_v2"));
  if (create == nullptr || c.sgemm == nullptr || c.dgemm == nullptr) {
    c.why_not = "libcublas lacks cublasCreate_v2 / cublasSgemm_v2 / cublasDgemm_v2";
    return c;
  }
  const cublasStatus_t s = create(&c.handle);
  if (s != CUBLAS_STATUS_SUCCESS) {
    (void)cudaGetLastError();
    c.why_not = cat("cublasCreate failed with status ", static_cast<int>(s));
    return c;
  }
  c.usable = true;
  return c;
}

struct Backend {
  bool own = true;
  Cublas cublas;
};

const Backend& backend() {
  static const Backend b = [] {
    Backend r;
    const char* env = std::getenv("FWP_CUDA_GEMM");
    const std::string choice = env ? env : "";
    FWP_CHECK(choice.empty() || choice == "own" || choice == "cublas",
              "gemm_cuda: FWP_CUDA_GEMM must be 'own' or 'cublas', got '", choice, "'");
    if (choice == "own") return r;
    r.cublas = open_cublas();
    FWP_CHECK(r.cublas.usable || choice.empty(),
              "gemm_cuda: FWP_CUDA_GEMM=cublas but cuBLAS cannot be used: ", r.cublas.why_not);
    r.own = !r.cublas.usable;
    return r;
  }();
  return b;
}

}  // namespace

template <typename T>
void gemm_cuda_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile),
                  static_cast<unsigned>((M + kTile - 1) / kTile));
  const dim3 block(kThreads, kThreads);
  gemm_tiled<T><<<grid, block>>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  FWP_CUDA_CHECK_LAUNCH("gemm_cuda (own tiled kernel)");
}

template <typename T>
void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const Backend& b = backend();
  if (b.own) {
    gemm_cuda_own<T>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (M <= 0 || N <= 0) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t s;
  if constexpr (sizeof(T) == 4)
    s = b.cublas.sgemm(b.cublas.handle, tb, ta, int(N), int(M), int(K), &alpha, B, int(ldb), A,
                       int(lda), &beta, C, int(ldc));
  else
    s = b.cublas.dgemm(b.cublas.handle, tb, ta, int(N), int(M), int(K), &alpha, B, int(ldb), A,
                       int(lda), &beta, C, int(ldc));
  FWP_CHECK(s == CUBLAS_STATUS_SUCCESS, "gemm_cuda: cuBLAS gemm (M=", M, ", N=", N, ", K=", K,
            ") failed with status ", static_cast<int>(s));
}

const char* gemm_cuda_backend() { return backend().own ? "own" : "cublas"; }

#define FWP_INSTANTIATE(T)                                                                     \
  template void gemm_cuda<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,      \
                             const T*, int64_t, T, T*, int64_t);                               \
  template void gemm_cuda_own<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,  \
                                 const T*, int64_t, T, T*, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
