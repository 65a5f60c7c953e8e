#pragma once
// CHATTERD_CHECK(cond, ErrorType, "fmt {}", args...): throw ErrorType with a formatted message.
// Library code never aborts: a bad input must not take down other users' requests.

#include <fmt/format.h>

#include "chatterd/core/error.h"

#define CHATTERD_CHECK(cond, ErrorType, ...)     \
  do {                                           \
    if (!(cond)) [[unlikely]] {                  \
      throw ErrorType(fmt::format(__VA_ARGS__)); \
    }                                            \
  } while (false)

#define CHATTERD_THROW(ErrorType, ...) throw ErrorType(fmt::format(__VA_ARGS__))
