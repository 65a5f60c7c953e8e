#include "engines/espeak/stream_resampler.h"

#include <soxr.h>

#include <cmath>

#include "core/check.h"

namespace chatterd::espeak {

void StreamResampler::Deleter::operator()(soxr* s) const {
  soxr_delete(s);
}

StreamResampler::StreamResampler(int in_rate_hz, int out_rate_hz)
    : ratio_(static_cast<double>(out_rate_hz) / in_rate_hz) {
  CHATTERD_CHECK(in_rate_hz > 0 && out_rate_hz > 0, InvalidArgument,
                 "resampler rates must be positive, got {} -> {} Hz", in_rate_hz, out_rate_hz);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  soxr_error_t error = nullptr;
  soxr_.reset(soxr_create(in_rate_hz, out_rate_hz, 1, &error, &io, &quality, &runtime));
  CHATTERD_CHECK(error == nullptr && soxr_ != nullptr, Internal,
                 "soxr_create({} -> {} Hz) failed: {}", in_rate_hz, out_rate_hz,
                 error != nullptr ? error : "null");
}

StreamResampler::~StreamResampler() = default;

void StreamResampler::run(const std::int16_t* in, std::size_t n, std::vector<float>& out) {
  // A null input tells soxr to flush; loop until it has nothing more to give.
  for (;;) {
    const std::size_t room =
        static_cast<std::size_t>(std::ceil(static_cast<double>(n) * ratio_)) + 256;
    const std::size_t base = out.size();
    out.resize(base + room);
    std::size_t used = 0;
    std::size_t made = 0;
    const soxr_error_t error =
        soxr_process(soxr_.get(), in, n, &used, out.data() + base, room, &made);
    out.resize(base + made);
    CHATTERD_CHECK(error == nullptr, Internal, "soxr_process failed: {}", error);
    if (in != nullptr) {
      in += used;
      n -= used;
      if (n == 0 && made < room) return;  // all input consumed and output drained
    } else if (made == 0) {
      return;
    }
  }
}

void StreamResampler::process(std::span<const std::int16_t> in, std::vector<float>& out) {
  if (!in.empty()) run(in.data(), in.size(), out);
}

void StreamResampler::flush(std::vector<float>& out) {
  run(nullptr, 0, out);
}

}  // namespace chatterd::espeak
