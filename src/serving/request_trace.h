#pragma once
// The Chrome trace events of one traced synthesis (`chatterd serve --trace FILE`), recorded on
// the worker that ran it, so each worker is one row in the viewer and a request's events nest:
//   "request"     cat "request"  admitted -> finished (args: id, chunks, audio_s, rtf, ok 1|0)
//     "queue_wait" cat "request" admitted -> started on the worker
//     "synthesize" cat "request" started -> finished
//       <stage>     cat "stage"   one span per engine stage (SynthesisStats::stages), laid end to
//                                 end from the start: streamed stages interleave in time, so the
//                                 spans show how long each took, not exactly when
//       "chunk"     cat "stream"  zero-length, when each audio chunk was produced (args: id,
//                                 index, samples, gap_ms since the previous chunk)
// T3 batch steps ("t3_batch_step", cat "t3", arg rows) come from the engine's own thread.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "chatterd/engine/tts_engine.h"
#include "core/trace.h"
#include "serving/request_log.h"

namespace chatterd::serving {

struct RequestSpan {
  std::chrono::steady_clock::time_point admitted;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point finished;
};

void trace_request(Tracer& tracer, const RequestSpan& span, const RequestRecord& record,
                   const SynthesisStats& stats);
void trace_chunk(Tracer& tracer, std::uint64_t id, std::chrono::steady_clock::time_point at,
                 std::int64_t index, std::size_t samples, double gap_ms);

}  // namespace chatterd::serving
