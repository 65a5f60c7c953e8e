#pragma once

#include <spdlog/logger.h>

#include "chatterd/core/logging.h"

namespace chatterd {

// The "chatterd" logger (stderr). Never the spdlog default logger.
spdlog::logger& logger();

}  // namespace chatterd
