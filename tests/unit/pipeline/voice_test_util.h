#pragma once
// Shared by the voice tests: the fixture folder and a temp folder (the weights tests' helpers),
// and EXPECT_ERROR_WITH for exact-type errors.

#include <filesystem>

#include "unit/weights/expect_error.h"
#include "unit/weights/test_files.h"

namespace chatterd::voice_test {

inline std::filesystem::path fixtures() {
  return CHATTERD_FIXTURES_DIR;
}

using TempDir = ::chatterd::testing::TempDir;

}  // namespace chatterd::voice_test
