#include "serving/request_log.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace chatterd::serving {

const char* outcome_name(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::Ok:
      return "ok";
    case RequestOutcome::Cancelled:
      return "cancelled";
    case RequestOutcome::BadRequest:
      return "bad_request";
    case RequestOutcome::Failed:
      return "failed";
    case RequestOutcome::Refused:
      return "refused";
  }
  return "unknown";
}

RequestLog::RequestLog(std::size_t capacity) : capacity_(capacity) {
  CHATTERD_CHECK(capacity_ >= 1, InvalidArgument, "RequestLog capacity must be >= 1");
  ring_.reserve(capacity_);  // add() never allocates after this
}

void RequestLog::add(const RequestRecord& record) {
  const std::lock_guard lock(mutex_);
  if (ring_.size() < capacity_) {
    ring_.push_back(record);
  } else {
    ring_[static_cast<std::size_t>(added_ % capacity_)] = record;
  }
  ++added_;
}

std::vector<RequestRecord> RequestLog::snapshot() const {
  const std::lock_guard lock(mutex_);
  if (ring_.size() < capacity_) return ring_;
  std::vector<RequestRecord> out;
  out.reserve(capacity_);
  const auto oldest = static_cast<std::ptrdiff_t>(added_ % capacity_);
  out.insert(out.end(), ring_.begin() + oldest, ring_.end());
  out.insert(out.end(), ring_.begin(), ring_.begin() + oldest);
  return out;
}

std::uint64_t RequestLog::total() const {
  const std::lock_guard lock(mutex_);
  return added_;
}

std::string RequestLog::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const RequestRecord& r : snapshot()) {
    out.push_back(
        {{"id", r.outcome == RequestOutcome::Refused ? nlohmann::json() : nlohmann::json(r.id)},
         {"arrival_unix_s", r.arrival_unix_s},
         {"queue_wait_ms", r.queue_wait_ms},
         {"first_chunk_ms",
          r.first_chunk_ms < 0.0 ? nlohmann::json() : nlohmann::json(r.first_chunk_ms)},
         {"chunks", r.chunks},
         {"total_ms", r.total_ms},
         {"audio_seconds", r.audio_seconds},
         {"rtf", r.real_time_factor},
         {"running_at_arrival", r.running_at_arrival},
         {"queued_at_arrival", r.queued_at_arrival},
         {"text_chars", r.text_chars},
         {"streamed", r.streamed},
         {"status", outcome_name(r.outcome)}});
  }
  return out.dump();
}

}  // namespace chatterd::serving
