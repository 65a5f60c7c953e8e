#include "serving/admin_endpoints.h"

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace chatterd::serving {
namespace {

nlohmann::json scheduler_json(const ServerState& state) {
  const SchedulerStats s = state.scheduler.stats();
  nlohmann::json rtf = nlohmann::json::array();
  for (const double r : s.rtf_by_level)
    rtf.push_back(r < 0.0 ? nlohmann::json() : nlohmann::json(r));
  return {{"queue_depth", s.queued + s.running},
          {"queued", s.queued},
          {"running", s.running},
          {"running_cap", s.cap},
          {"workers", s.workers},
          {"completed", s.completed},
          {"rtf_by_concurrency", rtf},
          {"max_queue", state.config.max_queue},
          {"realtime_budget", state.config.realtime_budget}};
}

}  // namespace

std::string voice_list_json(const ServerState& state) {
  nlohmann::json voices = nlohmann::json::array();
  const std::vector<std::string> names = state.voices.names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    voices.push_back({{"name", names[i]}, {"default", i == 0}});
  }
  const nlohmann::json body{{"voices", voices}, {"can_clone", state.voices.can_clone()}};
  return body.dump() + "\n";
}

std::string optimization_status_json(const ServerState& state) {
  const StreamingDefaults d = state.streaming_defaults();
  const Metrics& m = state.metrics;
  const nlohmann::json j{
      {"config", nlohmann::json::parse(state.config.to_json())},
      {"engine",
       {{"name", state.engine_info.name},
        {"sample_rate", state.engine_info.sample_rate_hz},
        {"voices", state.voices.names()},
        {"can_clone", state.voices.can_clone()}}},
      {"scheduler", scheduler_json(state)},
      {"streams", {{"active", m.active_streams.load()}, {"max", state.config.max_streams}}},
      {"connections",
       {{"open", m.connections_open.load()},
        {"max", state.config.max_connections},
        {"max_per_ip", state.config.max_connections_per_ip},
        {"refused_per_ip", m.connections_refused_per_ip.load()},
        {"refused_max", m.connections_refused_max.load()}}},
      {"streaming", {{"chunk_size", d.chunk_tokens}, {"max_speech_tokens", d.max_speech_tokens}}},
      {"counters",
       {{"responses", nlohmann::json::parse(m.responses_json())},
        {"in_flight", m.in_flight.load()},
        {"audio_seconds", m.audio_seconds()},
        {"ws_contexts", m.ws_contexts_total.load()},
        {"ws_cancels", m.ws_cancels_total.load()},
        {"ws_errors", m.ws_errors_total.load()},
        {"slow_clients", m.slow_clients_total.load()}}},
      {"shutting_down", state.shutting_down.load()}};
  return j.dump() + "\n";
}

std::variant<std::string, ApiError> configure_streaming(ServerState& state,
                                                        const std::string& body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return ApiError{400, fmt::format("malformed JSON: {}", e.what())};
  }
  if (!j.is_object()) return ApiError{400, "body must be a JSON object"};
  StreamingDefaults d = state.streaming_defaults();
  for (const auto& [key, value] : j.items()) {
    if (key != "chunk_size" && key != "max_speech_tokens") {
      return ApiError{
          400, fmt::format("unknown setting '{}'; known: chunk_size, max_speech_tokens", key)};
    }
    if (!value.is_number_integer()) {
      return ApiError{400, fmt::format("{} must be an integer, got {}", key, value.type_name())};
    }
    const auto v = value.get<std::int64_t>();
    if (key == "chunk_size") {
      if (v < 25 || v > 200) {
        return ApiError{400, fmt::format("chunk_size must be in 25..200 speech tokens, got {}", v)};
      }
      d.chunk_tokens = static_cast<int>(v);
    } else {
      if (v < 0 || v > state.config.max_speech_tokens_limit) {
        return ApiError{400, fmt::format("max_speech_tokens must be in 0..{} (0: the model's), "
                                         "got {}",
                                         state.config.max_speech_tokens_limit, v)};
      }
      d.max_speech_tokens = static_cast<int>(v);
    }
  }
  state.set_streaming_defaults(d);
  const nlohmann::json out{{"chunk_size", d.chunk_tokens},
                           {"max_speech_tokens", d.max_speech_tokens}};
  return out.dump() + "\n";
}

}  // namespace chatterd::serving
