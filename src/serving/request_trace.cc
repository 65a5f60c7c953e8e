#include "serving/request_trace.h"

namespace chatterd::serving {

void trace_request(Tracer& tracer, const RequestSpan& span, const RequestRecord& record,
                   const SynthesisStats& stats) {
  const auto id = static_cast<double>(record.id);
  tracer.complete("request", "request", span.admitted, span.finished,
                  {{"id", id},
                   {"chunks", static_cast<double>(record.chunks)},
                   {"audio_s", record.audio_seconds},
                   {"rtf", record.real_time_factor},
                   {"ok", record.outcome == RequestOutcome::Ok ? 1.0 : 0.0}});
  tracer.complete("queue_wait", "request", span.admitted, span.started, {{"id", id}});
  tracer.complete("synthesize", "request", span.started, span.finished, {{"id", id}});
  auto at = span.started;
  for (const StageTime& stage : stats.stages) {
    const auto end = at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double, std::milli>(stage.ms));
    tracer.complete(stage.name, "stage", at, end, {{"id", id}, {"ms", stage.ms}});
    at = end;
  }
}

void trace_chunk(Tracer& tracer, std::uint64_t id, std::chrono::steady_clock::time_point at,
                 std::int64_t index, std::size_t samples, double gap_ms) {
  tracer.complete("chunk", "stream", at, at,
                  {{"id", static_cast<double>(id)},
                   {"index", static_cast<double>(index)},
                   {"samples", static_cast<double>(samples)},
                   {"gap_ms", gap_ms}});
}

}  // namespace chatterd::serving
