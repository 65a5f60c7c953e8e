#pragma once
// The four spectral front-ends of voice cloning, each equal to one reference function. Inputs are
// mono float waveforms in [-1, 1] at the stated rate (not checked for range: the reference only
// warns about |x| > 1); non-finite samples and too-short inputs throw InvalidArgument naming the
// minimum length. All return f32 tensors; the layout is the one the consuming network reads.

#include <span>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::audio {

// VoiceEncoder `melspectrogram` (librosa.stft n_fft 400, hop 160, Hann, center reflect; |X|^2;
// 40 Slaney mels, fmax 8000; linear) of a 16 kHz wav. Returns (T, 40), T = 1 + L / 160 (the
// reference returns (40, T) and the encoder transposes it). Needs L >= 201.
Tensor ve_mel(const ExecContext& ctx, std::span<const float> wav16k, int n_mels = 40);

// torchaudio.compliance.kaldi.fbank(wav, num_mel_bins) with Kaldi defaults (25/10 ms, snip_edges,
// dither 0, remove DC, preemphasis 0.97, povey window, FFT 512, power, 20 Hz..nyquist mel banks,
// log(max(x, FLT_EPSILON))) followed by CAMPPlus's mean subtraction over time. Returns (T, bins),
// T = 1 + (L - 400) / 160. Needs L >= 400.
Tensor kaldi_fbank(const ExecContext& ctx, std::span<const float> wav16k, int num_mel_bins = 80,
                   bool subtract_mean = true);

// S3Tokenizer.log_mel_spectrogram: torch.stft n_fft 400, hop 160, periodic Hann, center reflect;
// the last frame dropped; |X|^2; 128 Slaney mels (fmax 8000); log10(max(x, 1e-10)); floored at
// the global max - 8 (over the whole clip); (x + 4) / 4. Returns (n_mels, T), T = L / 160, then cut
// to `max_frames` columns when max_frames >= 0 (S3Tokenizer.forward's max_len * 4). Needs L >= 201.
Tensor s3tokenizer_log_mel(const ExecContext& ctx, std::span<const float> wav16k, int n_mels = 128,
                           int max_frames = -1);

// s3gen/utils/mel.py mel_spectrogram at 24 kHz: reflect pad 720 each side, torch.stft n_fft 1920,
// hop 480, periodic Hann, center False; sqrt(re^2 + im^2 + 1e-9); 80 Slaney mels (fmax 8000);
// ln(max(x, 1e-5)). Returns (n_mels, T) as the reference does, T = L / 480. Needs L >= 721.
Tensor s3gen_mel(const ExecContext& ctx, std::span<const float> wav24k, int n_mels = 80);
// The same as S3Gen's `prompt_feat` layout: (T, n_mels).
Tensor s3gen_prompt_feat(const ExecContext& ctx, std::span<const float> wav24k, int n_mels = 80);

}  // namespace chatterd::audio
