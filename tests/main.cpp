// The test runner's main(). It turns on the allocator's NaN fill (core/allocator.h) before any
// test runs, so a kernel that reads memory it never wrote fails its test every time, then hands
// over to Catch2 (Debian's v2 here; v3 on machines that ship it).
#ifdef FWP_CATCH3
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include "core/allocator.h"

int main(int argc, char* argv[]) {
  fwp::cpu_allocator_set_fill_uninitialized(true);
  return Catch::Session().run(argc, argv);
}
