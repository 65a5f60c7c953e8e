#include "core/trace.h"

#include <cmath>
#include <fstream>

#include "core/check.h"

namespace chatterd {
namespace {

void append_escaped(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::int64_t micros(Tracer::Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

Tracer::Tracer(std::size_t max_events) : origin_(Clock::now()), max_events_(max_events) {
  events_.reserve(std::min<std::size_t>(max_events_, 4096));
}

int Tracer::thread_index() {
  const auto [it, inserted] =
      threads_.emplace(std::this_thread::get_id(), static_cast<int>(threads_.size()));
  return it->second;
}

void Tracer::complete(std::string_view name, std::string_view category, Clock::time_point start,
                      Clock::time_point end, std::initializer_list<Arg> args) {
  Event e;
  e.name = name;
  e.category = category;
  e.start_us = micros(start - origin_);
  // From the truncated end, not the truncated difference: a span recorded inside another then
  // never ends 1 us after it, so viewers nest them.
  e.duration_us = std::max<std::int64_t>(0, micros(end - origin_) - e.start_us);
  for (const Arg& a : args) e.args.emplace_back(std::string(a.key), a.value);
  const std::lock_guard<std::mutex> lock(mutex_);
  if (events_.size() >= max_events_) {
    ++dropped_;
    return;
  }
  e.thread = thread_index();
  events_.push_back(std::move(e));
}

std::vector<Tracer::Event> Tracer::events() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

std::size_t Tracer::dropped() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

std::string Tracer::to_json() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "{\"traceEvents\":[";
  bool first = true;
  for (const Event& e : events_) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    append_escaped(out, e.name);
    out += ",\"cat\":";
    append_escaped(out, e.category);
    out += fmt::format(",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{}", e.start_us,
                       e.duration_us, e.thread);
    if (!e.args.empty()) {
      out += ",\"args\":{";
      for (std::size_t i = 0; i < e.args.size(); ++i) {
        if (i > 0) out += ',';
        append_escaped(out, e.args[i].first);
        // JSON has no NaN/Inf: write null for them.
        out += std::isfinite(e.args[i].second) ? fmt::format(":{}", e.args[i].second) : ":null";
      }
      out += '}';
    }
    out += '}';
  }
  out += fmt::format("],\"displayTimeUnit\":\"ms\",\"otherData\":{{\"dropped\":{}}}}}", dropped_);
  return out;
}

void Tracer::write(const std::filesystem::path& path) const {
  const std::string json = to_json();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  CHATTERD_CHECK(f.good(), IoError, "trace: cannot open {} for writing", path.string());
  f.write(json.data(), static_cast<std::streamsize>(json.size()));
  CHATTERD_CHECK(f.good(), IoError, "trace: writing {} failed", path.string());
}

}  // namespace chatterd
