// The per-instruction-set copies of the SIMD kernels (kernels/cpu/simd_isa.h): which exist, which
// run here, and how one is chosen. The kernel tests run every runnable copy (tests/simd_copies.h).
#include <algorithm>

#include "core/error.h"
#include "kernels/cpu/simd_isa.h"
#include "tests/catch.h"
#include "tests/simd_copies.h"

using namespace fwp::kernels;

namespace {
bool contains(const std::vector<SimdIsa>& v, SimdIsa isa) {
  return std::find(v.begin(), v.end(), isa) != v.end();
}
}  // namespace

TEST_CASE("the widest SIMD copy this CPU runs is the default", "[kernels][simd]") {
  const std::vector<SimdIsa> compiled = compiled_simd_isas(), runnable = runnable_simd_isas();
  REQUIRE(!runnable.empty());
  for (SimdIsa isa : runnable) CHECK(contains(compiled, isa));
  CHECK(active_simd_isa() == runnable.back());
  for (size_t i = 1; i < runnable.size(); ++i)
    CHECK(simd_vector_bytes(runnable[i - 1]) <= simd_vector_bytes(runnable[i]));
}

TEST_CASE("on x86-64 the sse2 and avx2 copies are built and tested where the CPU has AVX2",
          "[kernels][simd]") {
#if defined(__x86_64__)
  const std::vector<SimdIsa> compiled = compiled_simd_isas(), runnable = runnable_simd_isas();
  CHECK(compiled == std::vector<SimdIsa>{SimdIsa::sse2, SimdIsa::avx2, SimdIsa::avx512});
  CHECK(contains(runnable, SimdIsa::sse2));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    CHECK(contains(runnable, SimdIsa::avx2));
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    CHECK(contains(runnable, SimdIsa::avx512));
#elif defined(__aarch64__)
  CHECK(runnable_simd_isas() == std::vector<SimdIsa>{SimdIsa::neon});
#else
  SUCCEED("neither x86-64 nor AArch64: only the generic copy");
#endif
}

TEST_CASE("set_simd_isa switches copies and refuses one that cannot run here", "[kernels][simd]") {
  const SimdIsa before = active_simd_isa();
  for (SimdIsa isa : runnable_simd_isas()) {
    fwp_test::UseSimdCopy use(isa);
    CHECK(active_simd_isa() == isa);
    CHECK(simd_description().find(simd_isa_name(isa)) == 0);
  }
  CHECK(active_simd_isa() == before);
  for (SimdIsa isa : {SimdIsa::generic, SimdIsa::sse2, SimdIsa::neon, SimdIsa::avx2,
                      SimdIsa::avx512})
    if (!contains(runnable_simd_isas(), isa)) {
      CHECK_FALSE(set_simd_isa(isa));
      CHECK(active_simd_isa() == before);
    }
}

TEST_CASE("SIMD copies are named and sized", "[kernels][simd]") {
  for (SimdIsa isa : {SimdIsa::generic, SimdIsa::sse2, SimdIsa::neon, SimdIsa::avx2,
                      SimdIsa::avx512}) {
    SimdIsa parsed = SimdIsa::generic;
    REQUIRE(parse_simd_isa(simd_isa_name(isa), &parsed));
    CHECK(parsed == isa);
  }
  SimdIsa unchanged = SimdIsa::avx2;
  CHECK_FALSE(parse_simd_isa("avx3", &unchanged));
  CHECK(unchanged == SimdIsa::avx2);
  CHECK(simd_vector_bytes(SimdIsa::sse2) == 16);
  CHECK(simd_vector_bytes(SimdIsa::neon) == 16);
  CHECK(simd_vector_bytes(SimdIsa::avx2) == 32);
  CHECK(simd_vector_bytes(SimdIsa::avx512) == 64);
}

TEST_CASE("FWP_SIMD selects a runnable copy or fails with a message naming it", "[kernels][simd]") {
  const std::vector<SimdIsa> runnable = runnable_simd_isas();
  CHECK(simd_isa_for_environment(nullptr) == runnable.back());
  CHECK(simd_isa_for_environment("") == runnable.back());
  for (SimdIsa isa : runnable) CHECK(simd_isa_for_environment(simd_isa_name(isa)) == isa);
  CHECK_THROWS_WITH(simd_isa_for_environment("avx3"),
                    fwp_test::HasSubstr("FWP_SIMD=avx3") &&
                        fwp_test::HasSubstr(simd_isa_name(runnable[0])));
#if defined(__x86_64__)
  CHECK_THROWS_AS(simd_isa_for_environment("neon"), fwp::Error);
#endif
}
