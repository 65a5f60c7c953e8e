#pragma once
// Streaming int16 -> float resampling for the espeak engine (espeak-ng speaks at 22.05 kHz, the
// engine seam is 24 kHz). It calls libsoxr directly rather than going through src/audio, which is
// another module's and resamples whole buffers; this one keeps soxr's state across espeak's
// buffers so that streamed chunks concatenate to exactly the one-shot result.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

struct soxr;

namespace chatterd::espeak {

class StreamResampler {
 public:
  // soxr HQ quality, single-threaded (the output must not depend on scheduling).
  StreamResampler(int in_rate_hz, int out_rate_hz);
  ~StreamResampler();
  StreamResampler(const StreamResampler&) = delete;
  StreamResampler& operator=(const StreamResampler&) = delete;

  // Appends to `out` whatever output `in` makes available (soxr holds back a few ms of latency).
  void process(std::span<const std::int16_t> in, std::vector<float>& out);
  // Appends the held-back tail; call once, after the last process().
  void flush(std::vector<float>& out);

 private:
  void run(const std::int16_t* in, std::size_t n, std::vector<float>& out);

  struct Deleter {
    void operator()(soxr* s) const;
  };
  std::unique_ptr<soxr, Deleter> soxr_;
  double ratio_;
};

}  // namespace chatterd::espeak
