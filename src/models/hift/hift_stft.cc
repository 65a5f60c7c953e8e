#include "models/hift/hift_stft.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"

namespace chatterd::hift {

SmallStft::SmallStft(std::int64_t n_fft, std::int64_t hop) : n_fft_(n_fft), hop_(hop) {
  CHATTERD_CHECK(n_fft > 0 && n_fft % 2 == 0 && hop > 0 && hop <= n_fft, InvalidArgument,
                 "SmallStft: need an even n_fft > 0 and 0 < hop <= n_fft, got n_fft {} hop {}",
                 n_fft, hop);
  const auto n = static_cast<std::size_t>(n_fft);
  window_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    // scipy get_window("hann", N, fftbins=True) in f64, then cast to f32 like the reference.
    window_[i] =
        static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                                static_cast<double>(n_fft)));
  }
  const auto b = static_cast<std::size_t>(bins());
  cos_.resize(b * n);
  sin_.resize(b * n);
  for (std::size_t k = 0; k < b; ++k) {
    for (std::size_t i = 0; i < n; ++i) {
      // Reduce k*i mod N first so the angle is exact for every entry.
      const double a =
          2.0 * std::numbers::pi * static_cast<double>((k * i) % n) / static_cast<double>(n_fft);
      cos_[k * n + i] = std::cos(a);
      sin_[k * n + i] = std::sin(a);
    }
  }
}

void SmallStft::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  CHATTERD_CHECK(x.dtype() == DType::F32, InvalidArgument,
                 "SmallStft::forward: x must be f32, got {}", x.to_string());
  const std::int64_t t = x.numel();
  const std::int64_t pad = n_fft_ / 2;
  CHATTERD_CHECK(t > pad, ShapeError,
                 "SmallStft::forward: a {}-sample signal is too short for the reflect pad of {}", t,
                 pad);
  const std::int64_t nf = frames(t);
  const std::int64_t nb = bins();
  out.resize({1, 2 * nb, nf}, DType::F32);
  const float* xp = x.data<float>();
  float* op = out.data<float>();
  const std::int64_t n = n_fft_;
  ctx.parallel_for(nf, 256, [&](std::int64_t f0, std::int64_t f1) {
    std::vector<double> frame(static_cast<std::size_t>(n));
    for (std::int64_t f = f0; f < f1; ++f) {
      for (std::int64_t i = 0; i < n; ++i) {
        // Index into the reflect-padded signal: p < 0 -> -p, p >= t -> 2(t-1) - p.
        std::int64_t p = f * hop_ + i - pad;
        if (p < 0) p = -p;
        if (p >= t) p = 2 * (t - 1) - p;
        frame[static_cast<std::size_t>(i)] =
            static_cast<double>(xp[p]) * window_[static_cast<std::size_t>(i)];
      }
      for (std::int64_t k = 0; k < nb; ++k) {
        const double* c = cos_.data() + k * n;
        const double* s = sin_.data() + k * n;
        double re = 0.0;
        double im = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
          re += frame[static_cast<std::size_t>(i)] * c[i];
          im -= frame[static_cast<std::size_t>(i)] * s[i];
        }
        op[k * nf + f] = static_cast<float>(re);
        op[(nb + k) * nf + f] = static_cast<float>(im);
      }
    }
  });
}

void SmallStft::inverse(const ExecContext& ctx, const Tensor& real, const Tensor& imag,
                        Tensor& out) const {
  const std::int64_t nb = bins();
  CHATTERD_CHECK(real.dtype() == DType::F32 && imag.dtype() == DType::F32 &&
                     real.shape() == imag.shape() && real.rank() >= 2 && real.dim(-2) == nb,
                 ShapeError,
                 "SmallStft::inverse: real {} and imag {} must both be f32 [{}, frames]",
                 real.to_string(), imag.to_string(), nb);
  const std::int64_t nf = real.dim(-1);
  CHATTERD_CHECK(nf >= 1, ShapeError, "SmallStft::inverse: no frames");
  const std::int64_t n = n_fft_;
  const std::int64_t pad = n / 2;
  const std::int64_t len = hop_ * (nf - 1);
  out.resize({1, len}, DType::F32);
  const float* re = real.data<float>();
  const float* im = imag.data<float>();
  float* op = out.data<float>();
  // Each output sample (index j in the untrimmed signal = sample + pad) gathers the frames f with
  // f*hop <= j < f*hop + n: no scatter, so output blocks run in parallel.
  ctx.parallel_for(len, 1024, [&](std::int64_t s0, std::int64_t s1) {
    const std::int64_t f_lo = std::max<std::int64_t>(0, (s0 + pad - n) / hop_);
    const std::int64_t f_hi = std::min<std::int64_t>(nf - 1, (s1 - 1 + pad) / hop_);
    // Time-domain frames (already windowed) for f_lo..f_hi.
    std::vector<double> buf(static_cast<std::size_t>((f_hi - f_lo + 1) * n));
    const double inv_n = 1.0 / static_cast<double>(n);
    for (std::int64_t f = f_lo; f <= f_hi; ++f) {
      double* fr = buf.data() + (f - f_lo) * n;
      for (std::int64_t i = 0; i < n; ++i) {
        // C2R: x[i] = (X0 + (-1)^i X_{N/2} + 2 sum_{k=1}^{N/2-1} Re(X_k e^{+j 2 pi k i / N})) / N
        double acc = re[f] + ((i & 1) ? -1.0 : 1.0) * re[(nb - 1) * nf + f];
        for (std::int64_t k = 1; k < nb - 1; ++k) {
          const double c = cos_[static_cast<std::size_t>(k * n + i)];
          const double s = sin_[static_cast<std::size_t>(k * n + i)];
          acc += 2.0 * (re[k * nf + f] * c - im[k * nf + f] * s);
        }
        fr[i] = acc * inv_n * window_[static_cast<std::size_t>(i)];
      }
    }
    for (std::int64_t o = s0; o < s1; ++o) {
      const std::int64_t j = o + pad;
      double acc = 0.0;
      double env = 0.0;
      const std::int64_t fa = std::max<std::int64_t>(0, (j - n) / hop_);
      const std::int64_t fb = std::min<std::int64_t>(nf - 1, j / hop_);
      for (std::int64_t f = fa; f <= fb; ++f) {
        const std::int64_t i = j - f * hop_;
        if (i < 0 || i >= n) continue;
        acc += buf[static_cast<std::size_t>((f - f_lo) * n + i)];
        const double w = window_[static_cast<std::size_t>(i)];
        env += w * w;
      }
      // torch.istft rejects an envelope below 1e-11 in the kept region; a Hann window with
      // hop <= n/2 never gets there, so only guard the division.
      op[o] = env > 1e-11 ? static_cast<float>(acc / env) : 0.0f;
    }
  });
}

}  // namespace chatterd::hift
