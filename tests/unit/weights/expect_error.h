#pragma once
// EXPECT_ERROR_WITH(statement, ErrorType, {"substr", ...}): the statement throws exactly that
// chatterd error type (not a base or sibling) and its message contains every substring.

#include <gtest/gtest.h>

#include <string>
#include <typeinfo>
#include <vector>

#include "chatterd/core/error.h"

#define EXPECT_ERROR_WITH(statement, ErrorType, ...)                       \
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
