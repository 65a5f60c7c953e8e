#pragma once
// Helpers the micro-benchmarks share: random inputs, the thread-count argument convention, and
// the memory read bandwidth that the decode benchmarks' floors divide by.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numbers>
#include <random>
#include <vector>

#include "chatterd/core/tensor.h"
#include "core/thread_pool.h"

namespace chatterd::bench {

// Uniform in [-1, 1) from a caller's generator.
inline Tensor random_f32(const Shape& shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

inline Tensor random_f32(const Shape& shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  return random_f32(shape, rng);
}

// 10 s of a voice-like signal at 24 kHz: a gliding 140 Hz harmonic series under a 3 Hz envelope.
inline const std::vector<float>& voice_like_10s_24k() {
  static const std::vector<float> x = [] {
    std::vector<float> v(240000);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double t = static_cast<double>(i) / 24000.0;
      const double f0 = 140.0 + 30.0 * std::sin(2.0 * std::numbers::pi * 0.7 * t);
      double s = 0.0;
      for (int h = 1; h <= 12; ++h) s += std::sin(2.0 * std::numbers::pi * f0 * h * t) / h;
      v[i] = static_cast<float>(0.1 * s * (0.6 + 0.4 * std::sin(2.0 * std::numbers::pi * 3.0 * t)));
    }
    return v;
  }();
  return x;
}

// A benchmark's threads argument: 0 means every hardware thread.
inline int thread_count(std::int64_t arg) {
  return arg == 0 ? ThreadPool::hardware_threads() : static_cast<int>(arg);
}

inline double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

struct Bandwidth {
  double wall = 0.0;  // bytes per wall second
  double cpu = 0.0;   // bytes per CPU second per thread: what a running thread streams, which
                      // stays meaningful when the machine is shared (descheduled time excluded)
};

// Read bandwidth with `threads` threads: the best of 5 multi-accumulator read-only sweeps over
// 512 MiB, measured once per thread count per process.
inline Bandwidth read_bandwidth(int threads) {
  static std::map<int, Bandwidth> measured;
  if (const auto it = measured.find(threads); it != measured.end()) return it->second;
  const std::size_t n = (std::size_t{512} << 20) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  ThreadPool pool(threads);
  Bandwidth best;
  for (int rep = 0; rep < 5; ++rep) {
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t chunks = threads * 8;
    pool.parallel_for(chunks, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t c = b; c < e; ++c) {
        const std::size_t lo = n * static_cast<std::size_t>(c) / static_cast<std::size_t>(chunks);
        const std::size_t hi =
            n * static_cast<std::size_t>(c + 1) / static_cast<std::size_t>(chunks);
        float acc[16] = {};
        std::size_t i = lo;
        for (; i + 16 <= hi; i += 16) {
          for (int j = 0; j < 16; ++j) acc[j] += buf[i + static_cast<std::size_t>(j)];
        }
        float s = 0.0f;
        for (const float a : acc) s += a;
        benchmark::DoNotOptimize(s);
      }
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = (process_cpu_seconds() - c0) / threads;
    const auto bytes = static_cast<double>(n * sizeof(float));
    best.wall = std::max(best.wall, bytes / sec);
    if (cpu > 0.0) best.cpu = std::max(best.cpu, bytes / cpu);
  }
  measured[threads] = best;
  return best;
}

}  // namespace chatterd::bench
