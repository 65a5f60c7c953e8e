#pragma once
// The public face of logging: a level. Internally chatterd logs through one named spdlog logger.

namespace chatterd {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

void set_log_level(LogLevel level);

}  // namespace chatterd
