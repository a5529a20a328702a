// small_gemm's naive twin (kernels/cpu/small_gemm.h): three plain loops over every entry.
#include "kernels/cpu/small_gemm.h"

namespace fwp::kernels {

template <typename Real>
void small_gemm_naive(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs,
                      const Real* B, int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha,
                      bool accumulate) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      Real acc = 0;
      for (int64_t s = 0; s < K; ++s) acc += A[i * a_rs + s * a_cs] * B[s * ldb + j];
      C[i * ldc + j] = accumulate ? C[i * ldc + j] + alpha * acc : alpha * acc;
    }
}

#define FWP_INSTANTIATE(R) \
  template void small_gemm_naive<R>(R*, int64_t, const R*, int64_t, int64_t, const R*,          \
                                    int64_t, int64_t, int64_t, int64_t, R, bool);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
