#pragma once
// Chrome trace-event recording (`--trace FILE`): complete events ("ph":"X") with a name, a
// category, a start and a duration in microseconds, the recording thread and a few numeric
// arguments, written as a JSON object Perfetto and chrome://tracing open. Bounded: after
// `max_events` further events are dropped (and counted), so a long-running server cannot grow
// without limit; a disabled tracer (nullptr where one is expected) costs one pointer test.
//
// Hand-written JSON: events carry only our own names and numbers, and the writer escapes them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatterd {

class Tracer {
 public:
  using Clock = std::chrono::steady_clock;
  struct Arg {
    std::string_view key;
    double value = 0.0;
  };
  struct Event {
    std::string name;
    std::string category;
    std::int64_t start_us = 0;
    std::int64_t duration_us = 0;
    int thread = 0;  // small ids in order of first appearance
    std::vector<std::pair<std::string, double>> args;
  };

  explicit Tracer(std::size_t max_events = 100000);

  // Records [start, end) on the calling thread.
  void complete(std::string_view name, std::string_view category, Clock::time_point start,
                Clock::time_point end, std::initializer_list<Arg> args = {});

  std::vector<Event> events() const;
  std::size_t dropped() const;
  // {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {"dropped": N}}.
  std::string to_json() const;
  // Writes to_json() to `path`; throws IoError naming the path.
  void write(const std::filesystem::path& path) const;

 private:
  int thread_index();  // caller holds mutex_

  Clock::time_point origin_;
  std::size_t max_events_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::size_t dropped_ = 0;
  std::unordered_map<std::thread::id, int> threads_;
};

// Records the enclosing scope as one event when `tracer` is not null.
class TraceSpan {
 public:
  TraceSpan(Tracer* tracer, std::string_view name, std::string_view category)
      : tracer_(tracer), name_(name), category_(category) {
    if (tracer_ != nullptr) start_ = Tracer::Clock::now();
  }
  ~TraceSpan() {
    if (tracer_ != nullptr) tracer_->complete(name_, category_, start_, Tracer::Clock::now());
  }
  TraceSpan(const TraceSpan&) = delete;
  TraceSpan& operator=(const TraceSpan&) = delete;

 private:
  Tracer* tracer_;
  std::string_view name_;
  std::string_view category_;
  Tracer::Clock::time_point start_;
};

}  // namespace chatterd
