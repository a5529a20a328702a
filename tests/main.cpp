// The test runner's main(). It turns on the allocator's NaN fill (core/allocator.h) before any
// test runs, so a kernel that reads memory it never wrote fails its test every time, then hands
// over to Catch2 (Debian's v2 here; v3 on machines that ship it). FWP_FILL_UNINITIALIZED=0 keeps
// the fill off, for valgrind, which tracks unwritten bytes itself and more precisely.
#ifdef FWP_CATCH3
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <cstdlib>

#include "core/allocator.h"

int main(int argc, char* argv[]) {
  // the allocator reads the variable itself when it is set
  if (std::getenv("FWP_FILL_UNINITIALIZED") == nullptr) fwp::cpu_allocator_set_fill_uninitialized(true);
  return Catch::Session().run(argc, argv);
}
