// Batched matrix products on top of kernels::gemm. When b is a shared 2-D matrix and a is not
// transposed, all of a's leading dims fold into M and the whole product is ONE gemm call.
// Tensors on the GPU go to kernels::gemm_cuda (cuBLAS or the own tiled kernel) the same way.
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/blas.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/blas.h"
#endif

namespace fwp {

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_same_type("matmul", "a", a, "b", b);  // same device too
  FWP_CHECK_SHAPE(a.dim() >= 2 && b.dim() >= 2,
                  "matmul: both arguments need at least 2 dimensions, got a=", a.shape(),
                  " and b=", b.shape());
  const int64_t M = trans_a ? a.size(-1) : a.size(-2);
  const int64_t Ka = trans_a ? a.size(-2) : a.size(-1);
  const int64_t Kb = trans_b ? b.size(-1) : b.size(-2);
  const int64_t N = trans_b ? b.size(-2) : b.size(-1);
  FWP_CHECK_SHAPE(Ka == Kb, "matmul: inner dimensions must match, got a=", a.shape(),
                  trans_a ? " (transposed)" : "", " and b=", b.shape(), trans_b ? " (transposed)" : "");
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  FWP_CHECK_SHAPE(batch_a == batch_b || batch_a.empty() || batch_b.empty(),
                  "matmul: batch dimensions must match (or one side be 2-D), got a=", a.shape(),
                  " and b=", b.shape());
  Shape out_shape = batch_a.empty() ? batch_b : batch_a;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const int64_t batch = std::max(batch_a.numel(), batch_b.numel());
  const int64_t K = Ka;
  const int64_t lda = a.size(-1), ldb = b.size(-1);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    auto gemm = FWP_KERNEL(a.device(), gemm, T);
    if (batch_b.empty() && !trans_a) {  // (batch*M, K) @ (K, N) in one call
      gemm(false, trans_b, batch * M, N, K, T(1), pa, lda, pb, ldb, T(0), pc, N);
      return;
    }
    const int64_t step_a = batch_a.empty() ? 0 : M * K, step_b = batch_b.empty() ? 0 : K * N;
    for (int64_t i = 0; i < batch; ++i)
      gemm(trans_a, trans_b, M, N, K, T(1), pa + i * step_a, lda, pb + i * step_b, ldb, T(0),
           pc + i * M * N, N);
  });
  return out;
}

}  // namespace fwp
