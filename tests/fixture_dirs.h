#pragma once
// The fixture folders the tests read (CHATTERD_FIXTURES_DIR comes from tests/CMakeLists.txt).
// Declared once here, not per file: the test binaries compile in unity batches, where two files'
// file-local constants of one name collide.

#include <filesystem>

namespace chatterd::test {

inline const std::filesystem::path kFixturesDir{CHATTERD_FIXTURES_DIR};
inline const std::filesystem::path kTurboTinyDir = kFixturesDir / "turbo-tiny";
inline const std::filesystem::path kEnglishTinyDir = kFixturesDir / "english-tiny";

}  // namespace chatterd::test
