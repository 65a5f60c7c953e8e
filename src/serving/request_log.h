#pragma once
// The last few synthesis jobs' lifecycles (arrival, queue wait, first chunk, total, audio, RTF,
// concurrency at arrival, outcome), for `/optimization-status` `recent_requests`: what happened
// to the request a user just complained about, without a log search. Bounded ring, one mutex;
// a worker adds one record per finished job, readers copy the ring.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace chatterd::serving {

enum class RequestOutcome { Ok, Cancelled, BadRequest, Failed, Refused };
const char* outcome_name(RequestOutcome outcome);  // "ok", "cancelled", ...

struct RequestRecord {
  std::uint64_t id = 0;  // admission order (the scheduler's sequence number); none if refused
  double arrival_unix_s = 0.0;   // wall clock, seconds since the epoch
  double queue_wait_ms = 0.0;    // admitted -> started on a worker
  double first_chunk_ms = -1.0;  // admitted -> first audio chunk; < 0: no chunk
  std::int64_t chunks = 0;
  double total_ms = 0.0;  // admitted -> finished
  double audio_seconds = 0.0;
  double real_time_factor = 0.0;       // the engine's (synthesis time / audio); 0: no audio
  std::size_t running_at_arrival = 0;  // jobs running when this one was admitted
  std::size_t queued_at_arrival = 0;   // jobs waiting when this one was admitted
  std::size_t text_chars = 0;          // bytes of text
  bool streamed = false;               // chunks went to the client as they were made
  RequestOutcome outcome = RequestOutcome::Ok;
};

class RequestLog {
 public:
  static constexpr std::size_t kCapacity = 64;
  explicit RequestLog(std::size_t capacity = kCapacity);
  void add(const RequestRecord& record);
  // Oldest first.
  std::vector<RequestRecord> snapshot() const;
  std::uint64_t total() const;  // records ever added
  // A JSON array of snapshot(), oldest first (field names as RequestRecord's, outcome as
  // "status").
  std::string to_json() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<RequestRecord> ring_;  // reserved to capacity_ once; slot = added % capacity_
  std::uint64_t added_ = 0;
};

}  // namespace chatterd::serving
