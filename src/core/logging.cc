#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace chatterd {

spdlog::logger& logger() {
  // Created on first use; spdlog's registry makes this thread-safe.
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("chatterd");
    return existing ? existing : spdlog::stderr_color_mt("chatterd");
  }();
  return *instance;
}

void set_log_level(LogLevel level) {
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case LogLevel::Trace:
      l = spdlog::level::trace;
      break;
    case LogLevel::Debug:
      l = spdlog::level::debug;
      break;
    case LogLevel::Info:
      l = spdlog::level::info;
      break;
    case LogLevel::Warn:
      l = spdlog::level::warn;
      break;
    case LogLevel::Error:
      l = spdlog::level::err;
      break;
    case LogLevel::Off:
      l = spdlog::level::off;
      break;
  }
  logger().set_level(l);
}

}  // namespace chatterd
