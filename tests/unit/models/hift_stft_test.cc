// HiFT's small STFT / iSTFT: torch.stft / torch.istft semantics (center, reflect, periodic Hann).
#include "models/hift/hift_stft.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "chatterd/core/error.h"

namespace chatterd::hift {
namespace {

Tensor signal(std::int64_t n) {
  Tensor x = Tensor::empty({n}, DType::F32);
  for (std::int64_t i = 0; i < n; ++i) {
    x.data<float>()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) +
                                            0.25 * std::cos(1.9 * static_cast<double>(i) + 0.3));
  }
  return x;
}

TEST(HiftStft, PeriodicHannWindow) {
  const SmallStft stft(16, 4);
  ASSERT_EQ(stft.window().size(), 16u);
  EXPECT_FLOAT_EQ(stft.window()[0], 0.0f);
  EXPECT_FLOAT_EQ(stft.window()[8], 1.0f);  // periodic: the peak is at N/2, not (N-1)/2
  EXPECT_FLOAT_EQ(stft.window()[4], 0.5f);
  EXPECT_FLOAT_EQ(stft.window()[12], 0.5f);
}

// Naive DFT of explicitly reflect-padded frames: the layout [real bins | imag bins] and the
// reflect padding (edge sample not repeated) at both ends.
TEST(HiftStft, ForwardMatchesNaiveReflectPaddedDft) {
  const SmallStft stft(16, 4);
  const std::int64_t t = 40;
  const Tensor x = signal(t);
  Tensor spec;
  stft.forward({}, x, spec);
  ASSERT_EQ(spec.shape(), (Shape{1, 18, t / 4 + 1}));
  std::vector<double> padded;
  for (std::int64_t i = 8; i >= 1; --i) padded.push_back(x.data<float>()[i]);
  for (std::int64_t i = 0; i < t; ++i) padded.push_back(x.data<float>()[i]);
  for (std::int64_t i = t - 2; i >= t - 9; --i) padded.push_back(x.data<float>()[i]);
  const std::int64_t nf = spec.dim(2);
  for (std::int64_t f = 0; f < nf; ++f) {
    for (std::int64_t k = 0; k < 9; ++k) {
      double re = 0.0;
      double im = 0.0;
      for (std::int64_t n = 0; n < 16; ++n) {
        const double v = padded[static_cast<std::size_t>(f * 4 + n)] *
                         stft.window()[static_cast<std::size_t>(n)];
        const double a = 2.0 * std::numbers::pi * static_cast<double>(k * n) / 16.0;
        re += v * std::cos(a);
        im -= v * std::sin(a);
      }
      EXPECT_NEAR(spec.data<float>()[k * nf + f], re, 1e-5) << "frame " << f << " bin " << k;
      EXPECT_NEAR(spec.data<float>()[(9 + k) * nf + f], im, 1e-5) << "frame " << f << " bin " << k;
    }
  }
}

// center=True round trip: the inverse divides by the summed squared window and trims n_fft/2 at
// both ends, so every sample (edges included) comes back and the length is hop * (frames - 1).
TEST(HiftStft, RoundTripReconstructsEdges) {
  const SmallStft stft(16, 4);
  const std::int64_t t = 4 * 37;
  const Tensor x = signal(t);
  Tensor spec;
  stft.forward({}, x, spec);
  const std::int64_t nf = spec.dim(2);
  const Tensor re =
      Tensor::from_span<float>(std::span<const float>(spec.data<float>(), 9 * nf), {9, nf});
  const Tensor im = Tensor::from_span<float>(
      std::span<const float>(spec.data<float>() + 9 * nf, 9 * nf), {9, nf});
  Tensor y;
  stft.inverse({}, re, im, y);
  ASSERT_EQ(y.shape(), (Shape{1, t}));
  for (std::int64_t i = 0; i < t; ++i) {
    EXPECT_NEAR(y.data<float>()[i], x.data<float>()[i], 2e-6) << i;
  }
}

// C2R semantics: imaginary parts of the DC and Nyquist bins carry no signal and are ignored
// (HiFT's phase = sin(x) makes them non-zero).
TEST(HiftStft, InverseIgnoresDcAndNyquistImaginaryParts) {
  const SmallStft stft(16, 4);
  const std::int64_t nf = 6;
  Tensor re = Tensor::zeros({9, nf}, DType::F32);
  Tensor im = Tensor::zeros({9, nf}, DType::F32);
  for (std::int64_t f = 0; f < nf; ++f) re.data<float>()[f] = 8.0f;  // DC of a constant 1
  Tensor a;
  stft.inverse({}, re, im, a);
  for (std::int64_t f = 0; f < nf; ++f) {
    im.data<float>()[f] = 3.0f;
    im.data<float>()[8 * nf + f] = -2.0f;
  }
  Tensor b;
  stft.inverse({}, re, im, b);
  ASSERT_EQ(a.shape(), (Shape{1, 4 * (nf - 1)}));
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    // Each frame is 8/16 = 0.5: the output is 0.5 sum(w) / sum(w^2) over the frames covering
    // the sample; near the ends fewer frames cover it (the edge handling under test).
    const std::int64_t j = i + 8;  // index in the untrimmed signal
    double sw = 0.0;
    double sw2 = 0.0;
    for (std::int64_t f = 0; f < nf; ++f) {
      const std::int64_t k = j - 4 * f;
      if (k < 0 || k >= 16) continue;
      sw += stft.window()[static_cast<std::size_t>(k)];
      sw2 +=
          stft.window()[static_cast<std::size_t>(k)] * stft.window()[static_cast<std::size_t>(k)];
    }
    EXPECT_NEAR(a.data<float>()[i], 0.5 * sw / sw2, 1e-6) << i;
    if (i >= 8 && i < a.numel() - 8) {
      EXPECT_NEAR(a.data<float>()[i], 2.0 / 3.0, 1e-6) << i;
    }
    EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]) << i;
  }
}

TEST(HiftStft, RejectsBadSizes) {
  EXPECT_THROW(SmallStft(15, 4), InvalidArgument);
  EXPECT_THROW(SmallStft(16, 0), InvalidArgument);
  const SmallStft stft(16, 4);
  Tensor spec;
  EXPECT_THROW(stft.forward({}, Tensor::zeros({8}, DType::F32), spec), ShapeError);
}

}  // namespace
}  // namespace chatterd::hift
