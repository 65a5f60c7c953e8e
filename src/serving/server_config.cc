#include "serving/server_config.h"

#include <fmt/format.h>

#include <vector>

#include "core/check.h"

namespace chatterd::serving {

void ServerConfig::validate() const {
  std::vector<std::string> problems;
  if (host.empty()) problems.emplace_back("host is empty");
  if (model.empty()) problems.emplace_back("model is empty");
  if (n_threads < 0) problems.push_back(fmt::format("threads must be >= 0, got {}", n_threads));
  if (io_threads < 1 || io_threads > 256) {
    problems.push_back(fmt::format("io_threads must be in 1..256, got {}", io_threads));
  }
  if (max_text_chars < 1) problems.emplace_back("max_text_chars must be >= 1");
  if (max_queue < 1 || max_queue > 4096) {
    problems.push_back(fmt::format("max_queue must be in 1..4096, got {}", max_queue));
  }
  if (max_body_bytes < 64) {
    problems.push_back(fmt::format("max_body_bytes must be >= 64, got {}", max_body_bytes));
  }
  if (request_timeout.count() < 1) problems.emplace_back("request_timeout must be >= 1 s");
  if (shutdown_grace.count() < 0) problems.emplace_back("shutdown_grace must be >= 0 s");
  if (api_key && api_key->empty()) problems.emplace_back("api_key is set but empty");
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "invalid server config: {}",
                 fmt::join(problems, "; "));
}

std::string ServerConfig::to_string() const {
  return fmt::format(
      "host = {}\nport = {}\nmodel = {}\nthreads = {}\nio_threads = {}\nmax_text_chars = {}\n"
      "max_queue = {}\nmax_body_bytes = {}\nrequest_timeout_s = {}\nshutdown_grace_s = {}\n"
      "api_key = {}\n",
      host, port, model, n_threads, io_threads, max_text_chars, max_queue, max_body_bytes,
      request_timeout.count(), shutdown_grace.count(), api_key ? "set" : "unset");
}

}  // namespace chatterd::serving
