#pragma once
// Shared by the voice tests: a temp folder, the turbo-tiny / english-tiny fixture paths, and an
// exact-type error expectation.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "chatterd/core/error.h"

namespace chatterd::voice_test {

inline std::filesystem::path fixtures() {
  return CHATTERD_FIXTURES_DIR;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "chatterd_voice_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace chatterd::voice_test

#define EXPECT_VOICE_ERROR(statement, ErrorType, ...)                      \
  do {                                                                     \
    try {                                                                  \
      statement;                                                           \
      ADD_FAILURE() << "expected " #ErrorType " from: " #statement;        \
    } catch (const ::chatterd::Error& e_) {                                \
      EXPECT_EQ(typeid(e_), typeid(ErrorType))                             \
          << "got " << typeid(e_).name() << ": " << e_.what();             \
      for (const std::string& s_ : std::vector<std::string> __VA_ARGS__) { \
        EXPECT_NE(std::string(e_.what()).find(s_), std::string::npos)      \
            << "message lacks '" << s_ << "': " << e_.what();              \
      }                                                                    \
    }                                                                      \
  } while (false)
