// Matrix products on the GPU: the own tiled GEMM against the CPU's kernels::gemm (every
// transpose, odd sizes, alpha and beta), and matmul on device tensors against matmul on the CPU
// (whichever of cuBLAS and the own kernel gemm_cuda chose).
#include "core/functional.h"
#include "kernels/cpu/blas.h"
#include "kernels/cuda/blas.h"
#include "tests/cuda/cuda_test.h"

using namespace fwp;
using fwp_test::check_close;

TEST_CASE("cuda: the own tiled gemm matches the CPU gemm, odd shapes and transposes", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(3);
  for (int64_t M : {1, 5, 33})
    for (int64_t N : {3, 17, 33})
      for (int64_t K : {1, 17, 33})
        for (int tr = 0; tr < 4; ++tr) {
          const bool ta = tr & 1, tb = tr & 2;
          const double beta = (M + N + K) % 2 ? 0.5 : 0.0;
          INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb
                    << " beta=" << beta);
          Tensor A = Tensor::randn(ta ? Shape{K, M} : Shape{M, K}, rng);
          Tensor B = Tensor::randn(tb ? Shape{N, K} : Shape{K, N}, rng);
          Tensor C = Tensor::randn({M, N}, rng);
          Tensor expected = C.clone();
          kernels::gemm<float>(ta, tb, M, N, K, 1.5f, A.data<float>(), A.size(-1),
                               B.data<float>(), B.size(-1), float(beta), expected.data<float>(), N);
          Tensor Ag = A.to(Device::cuda), Bg = B.to(Device::cuda), Cg = C.to(Device::cuda);
          kernels::gemm_cuda_own<float>(ta, tb, M, N, K, 1.5f, Ag.data<float>(), A.size(-1),
                                        Bg.data<float>(), B.size(-1), float(beta),
                                        Cg.data<float>(), N);
          check_close(Cg, expected, 1e-5, "own gemm f32");
        }
}

TEST_CASE("cuda: the own tiled gemm in f64", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(4);
  Tensor A = Tensor::randn({17, 33}, rng, DType::f64), B = Tensor::randn({5, 33}, rng, DType::f64);
  Tensor expected = Tensor::empty({17, 5}, DType::f64);
  kernels::gemm<double>(false, true, 17, 5, 33, 1.0, A.data<double>(), 33, B.data<double>(), 33,
                        0.0, expected.data<double>(), 5);
  // beta == 0: C is never read, so NaN there does not leak into the result
  Tensor C = Tensor::full({17, 5}, std::nan(""), DType::f64, Device::cuda);
  Tensor Ag = A.to(Device::cuda), Bg = B.to(Device::cuda);
  kernels::gemm_cuda_own<double>(false, true, 17, 5, 33, 1.0, Ag.data<double>(), 33,
                                 Bg.data<double>(), 33, 0.0, C.data<double>(), 5);
  check_close(C, expected, 1e-12, "own gemm f64");
}

TEST_CASE("cuda: matmul on device tensors matches the CPU, batched and transposed", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  INFO("gemm_cuda uses " << kernels::gemm_cuda_backend());
  Rng rng(9);
  Tensor a = Tensor::randn({3, 5, 17}, rng), b = Tensor::randn({17, 3}, rng);
  check_close(matmul(a.to(Device::cuda), b.to(Device::cuda)), matmul(a, b), 1e-5, "a @ b");
  Tensor c = Tensor::randn({3, 17, 5}, rng);
  check_close(matmul(a.to(Device::cuda), c.to(Device::cuda), true, true),
              matmul(a, c, true, true), 1e-5, "a^T @ c^T, batched");
  Tensor out = matmul(a.to(Device::cuda), b.to(Device::cuda));
  CHECK(out.device() == Device::cuda);
}
