// Which SIMD instruction set the fast-weight kernels run with (kernels/cpu/simd.h explains the
// per-instruction-set copies). Every build carries a copy of the SIMD kernels for each instruction
// set of its architecture (x86-64: sse2, avx2, avx512; AArch64: neon; others: generic), and the
// public kernels (kernels/delta_rule.h and its siblings) call the widest copy this CPU runs,
// checked once at run time. Tests run every copy the CPU can run (set_simd_isa); benchmarks print
// the copy they ran with (simd_description).
#pragma once
#include <string>
#include <vector>

namespace fwp::kernels {

enum class SimdIsa { generic, sse2, neon, avx2, avx512 };

const char* simd_isa_name(SimdIsa isa);  // "avx2", ...
int simd_vector_bytes(SimdIsa isa);      // 16, 32 or 64
// The copies in this build (narrowest first), and those of them this CPU can run.
std::vector<SimdIsa> compiled_simd_isas();
std::vector<SimdIsa> runnable_simd_isas();
// The copy the kernels use: the widest runnable one, or the one named by the environment
// variable FWP_SIMD (e.g. FWP_SIMD=avx2 to measure the AVX2 copy on an AVX-512 machine), unless
// set_simd_isa chose another. A FWP_SIMD that names no runnable copy makes this (and so every
// SIMD kernel) throw fwp::Error naming the value and the copies that would run.
SimdIsa active_simd_isa();
// What FWP_SIMD = value selects (value null or empty: the widest runnable copy); throws
// fwp::Error for any other value.
SimdIsa simd_isa_for_environment(const char* value);
// Makes `isa` the active copy; false (and nothing changed) when this build or CPU cannot run it.
// Not for use while kernels run on other threads: a kernel's workspace size and the kernel itself
// must come from the same copy.
bool set_simd_isa(SimdIsa isa);
// The SimdIsa called `name` ("sse2", "avx2", "avx512", "neon", "generic"); false if none is.
bool parse_simd_isa(const std::string& name, SimdIsa* isa);
// "avx2 (32-byte vectors)" for the active copy, for the headers of benchmark output.
std::string simd_description();

// The f32 multiply-add throughput of one core with the active copy's vectors, in GFLOP/s,
// measured for about `seconds` of the calling thread's CPU time (kernels/cpu/fma_peak.cpp): what the
// benchmarks call the peak when they print a fraction of it.
double fma_peak_gflops(double seconds = 0.2);

}  // namespace fwp::kernels
