#pragma once
// Shared by the voice tests: the fixture folder and a temp folder (the weights tests' helpers),
// and EXPECT_ERROR_WITH for exact-type errors.

#include <filesystem>

#include "pipeline/voice_builder.h"
#include "unit/weights/expect_error.h"
#include "unit/weights/test_files.h"

namespace chatterd::voice_test {

inline std::filesystem::path fixtures() {
  return CHATTERD_FIXTURES_DIR;
}

// The golden reference clip (tests/fixtures/golden/ref.wav).
inline AudioData ref_clip() {
  return read_voice_clip(fixtures() / "golden/ref.wav");
}

using TempDir = ::chatterd::testing::TempDir;

}  // namespace chatterd::voice_test
