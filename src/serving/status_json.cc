#include "serving/status_json.h"

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/system_info.h"

namespace chatterd::serving {
namespace {

nlohmann::json scheduler_json(const ServerState& state) {
  const SchedulerStats s = state.scheduler.stats();
  nlohmann::json rtf = nlohmann::json::array();
  for (const double r : s.rtf_by_level) {
    rtf.push_back(r < 0.0 ? nlohmann::json() : nlohmann::json(r));
  }
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

// The T3 batch loop's steps and the vocoder batcher's batches by trigger, from the metrics.
nlohmann::json batching_json(const ServerState& state) {
  const Metrics& m = state.metrics;
  nlohmann::json triggers = nlohmann::json::object();
  std::uint64_t batches = 0;
  for (int t = 0; t < kVocoderBatchTriggers; ++t) {
    const auto trigger = static_cast<VocoderBatchTrigger>(t);
    const std::uint64_t n = m.vocoder_batches(trigger);
    triggers[std::string(vocoder_batch_trigger_name(trigger))] = n;
    batches += n;
  }
  const std::uint64_t windows = m.vocoder_wait.count();
  return {{"max_batch", state.config.max_batch},
          {"t3_steps", m.batch_size.count()},
          {"vocoder_batch", state.config.vocoder_batch},
          {"vocoder_batches", triggers},
          {"vocoder_windows", windows},
          {"vocoder_mean_batch",
           batches > 0 ? static_cast<double>(windows) / static_cast<double>(batches) : 0.0}};
}

// The process's resident set now and, by engine stage, the largest resident set sampled at the
// end of a stage segment since start (chatterd_stage_peak_resident_bytes).
// Plus the engine's KV cache pool (chatterd_kv_cache_bytes), its device memory (CUDA; zero on
// the CPU) and the request cache (null when off).
nlohmann::json memory_json(const Metrics& m, const EngineMemoryStats& engine) {
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& [stage, bytes] : m.stage_peak_resident.values()) stages[stage] = bytes;
  return {{"resident_bytes", bench::resident_bytes()},
          {"stage_peak_resident_bytes", stages},
          {"kv_cache",
           {{"bytes_in_use", engine.kv_cache_bytes_in_use},
            {"bytes_allocated", engine.kv_cache_bytes_allocated},
            {"peak_bytes_in_use", engine.kv_cache_peak_bytes_in_use}}},
          {"device_memory",
           {{"bytes_in_use", engine.device_bytes_in_use},
            {"bytes_cached", engine.device_bytes_cached},
            {"peak_bytes_in_use", engine.device_peak_bytes_in_use}}},
          {"gpu", engine.gpu_telemetry
                      ? nlohmann::json{{"memory_used_bytes", engine.gpu_memory_used_bytes},
                                       {"memory_total_bytes", engine.gpu_memory_total_bytes},
                                       {"utilization_percent", engine.gpu_utilization_percent},
                                       {"memory_utilization_percent",
                                        engine.gpu_memory_utilization_percent}}
                      : nlohmann::json(nullptr)},
          {"device_busy_ms", engine.device_timing
                                 ? nlohmann::json{{"t3", engine.device_t3_ms},
                                                  {"t3_steps", engine.device_t3_steps},
                                                  {"flow", engine.device_flow_ms},
                                                  {"flow_calls", engine.device_flow_calls},
                                                  {"hift", engine.device_hift_ms},
                                                  {"hift_calls", engine.device_hift_calls}}
                                 : nlohmann::json(nullptr)},
          {"request_cache", engine.request_cache
                                ? nlohmann::json{{"bytes", engine.request_cache_bytes},
                                                 {"entries", engine.request_cache_entries},
                                                 {"hits", engine.request_cache_hits},
                                                 {"misses", engine.request_cache_misses},
                                                 {"evictions", engine.request_cache_evictions}}
                                : nlohmann::json(nullptr)}};
}

}  // namespace

std::string optimization_status_json(ServerState& state) {
  const StreamingDefaults d = state.streaming_defaults();
  const Metrics& m = state.metrics;
  const nlohmann::json j{
      {"config", nlohmann::json::parse(state.config.to_json())},
      {"engine",
       {{"name", state.engine_info.name},
        {"sample_rate", state.engine_info.sample_rate_hz},
        {"device", state.engine_info.device},
        {"vocoder_device", state.engine_info.vocoder_device},
        {"voices", state.voices.names()},
        {"can_clone", state.voices.can_clone()}}},
      {"scheduler", scheduler_json(state)},
      {"batching", batching_json(state)},
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
        {"speech_tokens", m.speech_tokens()},
        {"ws_contexts", m.ws_contexts_total.load()},
        {"ws_cancels", m.ws_cancels_total.load()},
        {"ws_errors", m.ws_errors_total.load()},
        {"slow_clients", m.slow_clients_total.load()}}},
      {"memory", memory_json(m, state.scheduler.engine_memory())},
      {"recent_requests", nlohmann::json::parse(m.recent_requests.to_json())},
      {"shutting_down", state.shutting_down.load()}};
  return j.dump();
}

}  // namespace chatterd::serving
