// Device tensors: the round trip to the GPU and back, fill and conversion on the device, reading
// single elements, the caching allocator, and the errors for tensors on the wrong device.
#include <vector>

#include "core/functional.h"
#include "tests/cuda/cuda_test.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

TEST_CASE("cuda: without a device, a cuda tensor is a clear error", "[cuda]") {
  if (kernels::cuda::available()) {
    CHECK(kernels::cuda::unavailable_reason().empty());
    return;
  }
  CHECK_THROWS_WITH(Tensor::empty({3}, DType::f32, Device::cuda),
                    HasSubstr("device 'cuda' is not available"));
}

TEST_CASE("cuda: to(cuda) and back gives the same values, odd shapes, f32 and f64", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(11);
  for (DType dt : {DType::f32, DType::f64})
    for (const Shape& s : {Shape{1}, Shape{3}, Shape{5, 17}, Shape{33, 3, 5}, Shape{}}) {
      INFO("shape " << s << " dtype " << dt);
      Tensor x = Tensor::randn(s, rng, dt);
      Tensor g = x.to(Device::cuda);
      CHECK(g.device() == Device::cuda);
      CHECK(g.shape() == s);
      CHECK(g.dtype() == dt);
      Tensor back = g.to(Device::cpu);
      CHECK(back.device() == Device::cpu);
      CHECK_THAT(back, AllClose(x, 0.0, 0.0));
      CHECK(g.to(Device::cuda).shares_storage_with(g));  // same device: no copy
      CHECK_THAT(g.clone().to(Device::cpu), AllClose(x, 0.0, 0.0));
    }
}

TEST_CASE("cuda: fill, zeros, full and dtype conversion on the device", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Tensor z = Tensor::zeros({17, 3}, DType::f32, Device::cuda);
  CHECK_THAT(z.to(Device::cpu), AllClose(Tensor::zeros({17, 3}), 0.0, 0.0));
  Tensor f = Tensor::full({33}, 2.5, DType::f64, Device::cuda);
  CHECK_THAT(f.to(Device::cpu), AllClose(Tensor::full({33}, 2.5, DType::f64), 0.0, 0.0));
  Rng rng(5);
  Tensor x = Tensor::randn({5, 3}, rng, DType::f64);
  Tensor as32 = x.to(Device::cuda).to(DType::f32);  // converts on the device
  CHECK(as32.device() == Device::cuda);
  CHECK_THAT(as32.to(Device::cpu), AllClose(x.to(DType::f32), 0.0, 0.0));
  Tensor dst = Tensor::empty({5, 3}, DType::f32, Device::cuda);
  dst.copy_(x);  // from the cpu, f64 -> f32
  CHECK_THAT(dst.to(Device::cpu), AllClose(x.to(DType::f32), 0.0, 0.0));
  Tensor host = Tensor::empty({5, 3}, DType::f64);
  host.copy_(as32);  // from the device, f32 -> f64
  CHECK_THAT(host, AllClose(x.to(DType::f32).to(DType::f64), 0.0, 0.0));
}

TEST_CASE("cuda: item, at and printing read single elements back", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).to(Device::cuda);
  CHECK(x.at({1, 2}) == 6.0);
  CHECK(x.at({0, 1}) == 2.0);
  CHECK(Tensor::scalar(7.0).to(Device::cuda).item() == 7.0);
  CHECK_THAT(x.str(), HasSubstr("device=cuda"));
  CHECK_THROWS_WITH(x.at({2, 0}), HasSubstr("out of range"));
}

TEST_CASE("cuda: freed device blocks are reused by the caching allocator", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  { Tensor a = Tensor::empty({1000}, DType::f32, Device::cuda); }
  const auto before = kernels::cuda::allocator_stats();
  CHECK(before.cached_bytes >= 4000);
  { Tensor b = Tensor::empty({1000}, DType::f32, Device::cuda); }
  const auto after = kernels::cuda::allocator_stats();
  CHECK(after.cache_hits == before.cache_hits + 1);
  CHECK(after.cache_misses == before.cache_misses);
  kernels::cuda::allocator_release_cache();
  CHECK(kernels::cuda::allocator_stats().cached_bytes == 0);
}

TEST_CASE("cuda: a tensor on the wrong device is an error naming both devices", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Tensor c = Tensor::ones({3, 3});
  Tensor g = Tensor::ones({3, 3}, DType::f32, Device::cuda);
  CHECK_THROWS_WITH(matmul(c, g), HasSubstr("devices must match, got a=cpu and b=cuda"));
  CHECK_THROWS_WITH(matmul(g, c), HasSubstr("devices must match, got a=cuda and b=cpu"));
  CHECK_THROWS_WITH(add(c, g), HasSubstr("devices must match"));
  CHECK_THROWS_WITH(softmax_backward(g, c), HasSubstr("got grad_out=cuda and y=cpu"));
}
