// fuzz/fuzz_check.h - the one way a harness reports a broken property.
//
// A sanitizer finding already aborts; a property the harness checks itself
// (two parsers disagree, an output breaks its contract) goes through
// FUZZ_CHECK, which prints what broke and aborts, so libFuzzer saves the
// input as a crash like any other.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__,     \
                   __LINE__, #cond);                                       \
      std::fprintf(stderr, __VA_ARGS__);                                   \
      std::fprintf(stderr, "\n");                                          \
      std::abort();                                                        \
    }                                                                      \
  } while (0)
