#include "serving/server_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chatterd/core/error.h"
#include "core/check.h"

namespace chatterd::serving {
namespace {

template <class T>
T parse_int(std::string_view key, const std::string& value, std::string_view source) {
  long long v = 0;
  const char* end = value.data() + value.size();
  const auto [p, ec] = std::from_chars(value.data(), end, v);
  CHATTERD_CHECK(ec == std::errc() && p == end && !value.empty(), InvalidArgument,
                 "{}: {} must be an integer, got '{}'", source, key, value);
  CHATTERD_CHECK(v >= static_cast<long long>(std::numeric_limits<T>::min()) &&
                     static_cast<unsigned long long>(v) <=
                         static_cast<unsigned long long>(std::numeric_limits<T>::max()),
                 InvalidArgument, "{}: {} = {} is out of range", source, key, value);
  return static_cast<T>(v);
}

double parse_double(std::string_view key, const std::string& value, std::string_view source) {
  double v = 0.0;
  const char* end = value.data() + value.size();
  const auto [p, ec] = std::from_chars(value.data(), end, v);
  CHATTERD_CHECK(ec == std::errc() && p == end && !value.empty(), InvalidArgument,
                 "{}: {} must be a number, got '{}'", source, key, value);
  return v;
}

std::string json_scalar_text(const nlohmann::json& v, std::string_view key,
                             std::string_view source) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float() && (key == "realtime_budget" || key == "vocoder_max_wait_ms" ||
                              key == "vocoder_early_fire_ratio")) {
    return v.dump();
  }
  CHATTERD_THROW(InvalidArgument, "{}: {} must be {}, got {}", source, key,
                 key == "api_key" || key == "host" || key == "model" || key == "voice_store" ||
                         key == "dtype" || key == "vocoder_dtype" || key == "trace" ||
                         key == "device"
                     ? "a string"
                     : "an integer",
                 v.type_name());
}

}  // namespace

const std::vector<std::string_view>& config_keys() {
  static const std::vector<std::string_view> kKeys{"host",
                                                   "port",
                                                   "model",
                                                   "threads",
                                                   "dtype",
                                                   "vocoder_dtype",
                                                   "device",
                                                   "io_threads",
                                                   "max_text_chars",
                                                   "max_queue",
                                                   "max_body_bytes",
                                                   "max_upload_bytes",
                                                   "max_streams",
                                                   "max_contexts",
                                                   "max_connections",
                                                   "max_connections_per_ip",
                                                   "timeout",
                                                   "stream_idle_timeout",
                                                   "shutdown_grace",
                                                   "chunk_size",
                                                   "max_speech_tokens",
                                                   "max_speech_tokens_limit",
                                                   "voice_store",
                                                   "api_key",
                                                   "max_batch",
                                                   "vocoder_batch",
                                                   "vocoder_max_wait_ms",
                                                   "vocoder_early_fire_ratio",
                                                   "realtime_budget",
                                                   "trace",
                                                   "trace_requests",
                                                   "request_cache_mb"};
  return kKeys;
}

void set_config_value(ServerConfig& c, std::string_view key, const std::string& value,
                      std::string_view source) {
  const auto secs = [&] { return std::chrono::seconds(parse_int<int>(key, value, source)); };
  if (key == "host") {
    c.host = value;
  } else if (key == "port") {
    c.port = parse_int<std::uint16_t>(key, value, source);
  } else if (key == "model") {
    c.model = value;
  } else if (key == "threads") {
    c.n_threads = parse_int<int>(key, value, source);
  } else if (key == "dtype") {
    try {
      c.t3_dtype = parse_weight_dtype(value);
    } catch (const InvalidArgument& e) {
      CHATTERD_THROW(InvalidArgument, "{}: {}", source, e.what());
    }
  } else if (key == "vocoder_dtype") {
    CHATTERD_CHECK(value == "f32" || value == "bf16", InvalidArgument,
                   "{}: vocoder_dtype must be f32 or bf16, got '{}'", source, value);
    c.vocoder_dtype = parse_weight_dtype(value);
  } else if (key == "device") {
    try {
      c.device = parse_device_spec(value);
    } catch (const InvalidArgument& e) {
      CHATTERD_THROW(InvalidArgument, "{}: {}", source, e.what());
    }
  } else if (key == "io_threads") {
    c.io_threads = parse_int<int>(key, value, source);
  } else if (key == "max_text_chars") {
    c.max_text_chars = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_queue") {
    c.max_queue = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_body_bytes") {
    c.max_body_bytes = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_upload_bytes") {
    c.max_upload_bytes = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_streams") {
    c.max_streams = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_contexts") {
    c.max_contexts = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_connections") {
    c.max_connections = parse_int<std::size_t>(key, value, source);
  } else if (key == "max_connections_per_ip") {
    c.max_connections_per_ip = parse_int<std::size_t>(key, value, source);
  } else if (key == "timeout") {
    c.request_timeout = secs();
  } else if (key == "stream_idle_timeout") {
    c.stream_idle_timeout = secs();
  } else if (key == "shutdown_grace") {
    c.shutdown_grace = secs();
  } else if (key == "chunk_size") {
    c.default_chunk_tokens = parse_int<int>(key, value, source);
  } else if (key == "max_speech_tokens") {
    c.max_speech_tokens = parse_int<int>(key, value, source);
  } else if (key == "max_speech_tokens_limit") {
    c.max_speech_tokens_limit = parse_int<int>(key, value, source);
  } else if (key == "voice_store") {
    c.voice_store = value;
  } else if (key == "api_key") {
    c.api_key = value;
  } else if (key == "max_batch") {
    c.max_batch = parse_int<int>(key, value, source);
  } else if (key == "vocoder_batch") {
    c.vocoder_batch = parse_int<int>(key, value, source);
  } else if (key == "vocoder_max_wait_ms") {
    c.vocoder_max_wait_ms = parse_double(key, value, source);
  } else if (key == "vocoder_early_fire_ratio") {
    c.vocoder_early_fire_ratio = parse_double(key, value, source);
  } else if (key == "realtime_budget") {
    c.realtime_budget = parse_double(key, value, source);
  } else if (key == "trace") {
    c.trace_file = value;
  } else if (key == "trace_requests") {
    c.trace_requests = parse_int<int>(key, value, source);
  } else if (key == "request_cache_mb") {
    c.request_cache_mb = parse_int<int>(key, value, source);
  } else {
    CHATTERD_THROW(InvalidArgument, "{}: unknown setting '{}'; known: {}", source, key,
                   fmt::join(config_keys(), ", "));
  }
}

void apply_config_json(ServerConfig& config, std::string_view json_text, std::string_view source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    CHATTERD_THROW(InvalidArgument, "{}: malformed JSON: {}", source, e.what());
  }
  CHATTERD_CHECK(j.is_object(), InvalidArgument, "{}: must be a JSON object, got {}", source,
                 j.type_name());
  for (const auto& [key, value] : j.items()) {
    set_config_value(config, key, json_scalar_text(value, key, source), source);
  }
}

void apply_config_file(ServerConfig& config, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CHATTERD_CHECK(in.good(), IoError, "cannot read config file '{}'", path);
  std::ostringstream text;
  text << in.rdbuf();
  apply_config_json(config, text.str(), fmt::format("config file '{}'", path));
}

std::string env_name(std::string_view key) {
  std::string out = "CHATTERD_";
  for (char ch : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

std::string flag_name(std::string_view key) {
  std::string out = "--";
  for (char ch : key) out += ch == '_' ? '-' : ch;
  return out;
}

void apply_config_env(ServerConfig& config, const std::function<const char*(const char*)>& getenv) {
  for (std::string_view key : config_keys()) {
    const std::string name = env_name(key);
    const char* v = getenv(name.c_str());
    if (v != nullptr && *v != '\0') {
      set_config_value(config, key, v, fmt::format("environment {}", name));
    }
  }
}

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
  if (max_upload_bytes < 1024) {
    problems.push_back(fmt::format("max_upload_bytes must be >= 1024, got {}", max_upload_bytes));
  }
  if (max_streams < 1 || max_streams > 65536) {
    problems.push_back(fmt::format("max_streams must be in 1..65536, got {}", max_streams));
  }
  if (max_contexts < 1 || max_contexts > 1024) {
    problems.push_back(fmt::format("max_contexts must be in 1..1024, got {}", max_contexts));
  }
  if (max_connections < 1 || max_connections > 65536) {
    problems.push_back(fmt::format("max_connections must be in 1..65536, got {}", max_connections));
  }
  if (max_connections_per_ip > max_connections) {
    problems.push_back(
        fmt::format("max_connections_per_ip must be in 0..max_connections ({}; 0: "
                    "no per-peer limit), got {}",
                    max_connections, max_connections_per_ip));
  }
  if (request_timeout.count() < 1) problems.emplace_back("timeout must be >= 1 s");
  if (stream_idle_timeout.count() < 1) problems.emplace_back("stream_idle_timeout must be >= 1 s");
  if (shutdown_grace.count() < 0) problems.emplace_back("shutdown_grace must be >= 0 s");
  if (default_chunk_tokens < 25 || default_chunk_tokens > 200) {
    problems.push_back(
        fmt::format("chunk_size must be in 25..200 speech tokens, got {}", default_chunk_tokens));
  }
  if (max_speech_tokens_limit < 1) {
    problems.push_back(
        fmt::format("max_speech_tokens_limit must be >= 1, got {}", max_speech_tokens_limit));
  }
  if (max_speech_tokens < 0 || max_speech_tokens > max_speech_tokens_limit) {
    problems.push_back(fmt::format("max_speech_tokens must be in 0..{} (0: the model's), got {}",
                                   max_speech_tokens_limit, max_speech_tokens));
  }
  if (api_key && api_key->empty()) problems.emplace_back("api_key is set but empty");
  if (max_batch < 1 || max_batch > 64) {
    problems.push_back(
        fmt::format("max_batch must be in 1..64 (1: no batching), got {}", max_batch));
  }
  if (vocoder_batch < 1 || vocoder_batch > 64) {
    problems.push_back(fmt::format(
        "vocoder_batch must be in 1..64 (1: no vocoder batching), got {}", vocoder_batch));
  }
  if (!std::isfinite(vocoder_max_wait_ms) || vocoder_max_wait_ms < 0.0 ||
      vocoder_max_wait_ms > 1000.0) {
    problems.push_back(
        fmt::format("vocoder_max_wait_ms must be in 0..1000, got {}", vocoder_max_wait_ms));
  }
  if (!(vocoder_early_fire_ratio > 0.0 && vocoder_early_fire_ratio <= 1.0)) {
    problems.push_back(fmt::format("vocoder_early_fire_ratio must be in (0, 1], got {}",
                                   vocoder_early_fire_ratio));
  }
  if (!std::isfinite(realtime_budget) || realtime_budget < 0.0) {
    problems.push_back(
        fmt::format("realtime_budget must be >= 0 (0: off), got {}", realtime_budget));
  }
  if (request_cache_mb < 0 || request_cache_mb > 65536) {
    problems.push_back(
        fmt::format("request_cache_mb must be in 0..65536 (0: off), got {}", request_cache_mb));
  }
  if (trace_requests < 1 || trace_requests > 10000) {
    problems.push_back(fmt::format("trace_requests must be in 1..10000, got {}", trace_requests));
  }
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "invalid server config: {}",
                 fmt::join(problems, "; "));
}

std::string ServerConfig::to_json() const {
  const nlohmann::json j{{"host", host},
                         {"port", port},
                         {"model", model},
                         {"threads", n_threads},
                         {"dtype", std::string(weight_dtype_name(t3_dtype))},
                         {"vocoder_dtype", std::string(weight_dtype_name(vocoder_dtype))},
                         {"device", device_spec_name(device)},
                         {"io_threads", io_threads},
                         {"max_text_chars", max_text_chars},
                         {"max_queue", max_queue},
                         {"max_body_bytes", max_body_bytes},
                         {"max_upload_bytes", max_upload_bytes},
                         {"max_streams", max_streams},
                         {"max_contexts", max_contexts},
                         {"max_connections", max_connections},
                         {"max_connections_per_ip", max_connections_per_ip},
                         {"timeout", request_timeout.count()},
                         {"stream_idle_timeout", stream_idle_timeout.count()},
                         {"shutdown_grace", shutdown_grace.count()},
                         {"chunk_size", default_chunk_tokens},
                         {"max_speech_tokens", max_speech_tokens},
                         {"max_speech_tokens_limit", max_speech_tokens_limit},
                         {"voice_store", voice_store},
                         {"api_key", api_key ? "set" : "unset"},
                         {"max_batch", max_batch},
                         {"vocoder_batch", vocoder_batch},
                         {"vocoder_max_wait_ms", vocoder_max_wait_ms},
                         {"vocoder_early_fire_ratio", vocoder_early_fire_ratio},
                         {"realtime_budget", realtime_budget},
                         {"trace", trace_file},
                         {"trace_requests", trace_requests},
                         {"request_cache_mb", request_cache_mb}};
  return j.dump();
}

std::string ServerConfig::to_string() const {
  const nlohmann::json j = nlohmann::json::parse(to_json());
  std::string out;
  for (std::string_view key : config_keys()) {
    const nlohmann::json& v = j.at(std::string(key));
    out += fmt::format("{} = {}\n", key, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

}  // namespace chatterd::serving
