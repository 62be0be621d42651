// tests/milter/golden_file.h - what the golden-file tests share: comparing
// a run's text with its expected file, rewriting that file on request, and
// masking the parts that are random in every run.
//
// ATTACHGATE_UPDATE_GOLDEN=1 writes the expected files from this run before
// comparing, so a deliberate change shows up as a `git diff` to review.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

#include "tests/milter/processor_fixture.h"

namespace attachgate::milter::testing {

inline bool updating_golden() { return std::getenv("ATTACHGATE_UPDATE_GOLDEN") != nullptr; }

// The message's public id (X-Attachgate: ...; message=ID) is new in every run.
inline std::string mask_message_id(const std::string& text) {
  static const std::regex id("message=[0-9a-f]{16}");
  return std::regex_replace(text, id, "message=MESSAGEID");
}

// `actual` must equal the file at `path`, byte for byte.
inline void expect_golden(const std::string& path, const std::string& actual) {
  if (updating_golden()) std::ofstream(path, std::ios::binary) << actual;
  const std::string expected = read_file(path);
  EXPECT_FALSE(expected.empty()) << "missing golden file " << path
                                 << " (ATTACHGATE_UPDATE_GOLDEN=1 writes it)";
  EXPECT_EQ(actual, expected) << "output differs from " << path;
}

}  // namespace attachgate::milter::testing
