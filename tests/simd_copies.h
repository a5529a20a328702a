// FWP_FOR_EACH_SIMD_COPY(): runs the rest of the enclosing Catch2 test case once for every copy
// of the SIMD kernels this CPU can run (kernels/cpu/simd_isa.h; on x86-64 with AVX-512: sse2,
// avx2 and avx512), with that copy active, and names the copy in any failure. So the 16-, 32- and
// 64-byte versions of every kernel are held against the naive twins on one machine.
#pragma once
#include "kernels/cpu/simd_isa.h"
#include "tests/catch.h"

namespace fwp_test {

// Makes `isa` the active copy for its lifetime, then restores the one before.
class UseSimdCopy {
 public:
  explicit UseSimdCopy(fwp::kernels::SimdIsa isa) : saved_(fwp::kernels::active_simd_isa()) {
    REQUIRE(fwp::kernels::set_simd_isa(isa));
  }
  ~UseSimdCopy() { fwp::kernels::set_simd_isa(saved_); }
  UseSimdCopy(const UseSimdCopy&) = delete;
  UseSimdCopy& operator=(const UseSimdCopy&) = delete;

 private:
  fwp::kernels::SimdIsa saved_;
};

}  // namespace fwp_test

#define FWP_FOR_EACH_SIMD_COPY()                                                          \
  const ::fwp::kernels::SimdIsa fwp_simd_copy_ =                                          \
      GENERATE(from_range(::fwp::kernels::runnable_simd_isas()));                         \
  ::fwp_test::UseSimdCopy fwp_use_simd_copy_(fwp_simd_copy_);                             \
  INFO("SIMD copy: " << ::fwp::kernels::simd_isa_name(fwp_simd_copy_))
