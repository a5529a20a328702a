// The test runner's main(): Catch2 v2 generates it here; with v3 Catch2WithMain provides it.
#ifndef FWP_CATCH3
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
