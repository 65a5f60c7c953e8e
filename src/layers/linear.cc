#include "layers/linear.h"

#include <string>

#include "core/check.h"
#include "ops/convert.h"
#include "ops/device.h"
#include "ops/layout.h"

namespace chatterd::layers {

Linear::Linear(const WeightStore& store, std::string_view prefix, std::int64_t in, std::int64_t out,
               bool bias, ops::WeightLayout layout)
    : has_bias_(bias), layout_(layout), in_(in), out_(out) {
  const std::string p(prefix);
  const Shape shape = layout == ops::WeightLayout::OutIn ? Shape{out, in} : Shape{in, out};
  weight_ = store.get(p + ".weight", shape);
  if (bias) bias_ = store.get_f32(p + ".bias", Shape{out});
}

DType Linear::convert_weight(const ExecContext& ctx, DType dtype) {
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 ||
                     dtype == DType::Q8_0 || dtype == DType::Q4_0,
                 InvalidArgument, "Linear::convert_weight: no {} weights", dtype_name(dtype));
  if (dtype == DType::Q4_0 && !ops::q4_rows_available(in_)) dtype = DType::Q8_0;
  if (dtype == DType::Q8_0 && in_ % kQ8BlockSize != 0) dtype = DType::BF16;
  if (!rows_.empty()) {
    const DType held = rows_.format == ops::RowQuant::Int4 ? DType::Q4_0 : DType::Q8_0;
    CHATTERD_CHECK(dtype == held, InvalidArgument,
                   "Linear::convert_weight: a row-packed {} weight cannot become {}",
                   dtype_name(held), dtype_name(dtype));
    return dtype;
  }
  const bool to_out_in = (dtype == DType::BF16 || dtype == DType::Q8_0 || dtype == DType::Q4_0) &&
                         layout_ == ops::WeightLayout::InOut;
  if (weight_.dtype() == dtype && !to_out_in) return dtype;
  Tensor src = weight_;
  if (src.dtype() == DType::Q8_0) {
    Tensor f;
    ops::dequantize_q8_0(ctx, src, f);
    src = std::move(f);
  }
  if (to_out_in) {
    Tensor t;
    ops::transpose(ctx, src, 0, 1, t);
    src = std::move(t);
    layout_ = ops::WeightLayout::OutIn;
  }
  Tensor out;
  if (dtype == DType::Q4_0) {
    ops::quantize_q4_0(ctx, src, out);
    rows_ = ops::pack_q4_rows(ctx, out);
    weight_ = Tensor();
    return dtype;
  }
  if (dtype == DType::Q8_0) {
    ops::quantize_q8_0(ctx, src, out);
  } else {
    ops::convert(ctx, src, dtype, out);
  }
  weight_ = std::move(out);
  if (dtype == DType::Q8_0 && ops::q8_rows_available(ctx, in_)) {
    rows_ = ops::pack_q8_rows(ctx, weight_);
    weight_ = Tensor();
  }
  return dtype;
}

std::size_t Linear::weight_bytes() const {
  if (!rows_.empty()) return rows_.nbytes();
  if (!packed_.empty()) return packed_.panels.nbytes();
  return weight_.nbytes();
}

bool Linear::pack_bf16(const ExecContext& ctx) {
  if (!packed_.empty()) return true;
  if (!rows_.empty()) return false;  // an int8 T3 matrix: the bf16 tile is for the vocoder
  if (!ops::bf16_gemm_available(ctx)) return false;
  packed_ = ops::pack_linear_bf16(ctx, weight_, layout_);
  weight_ = Tensor();
  return true;
}

void Linear::to_device(const ExecContext& ctx, DType dtype) {
  CHATTERD_CHECK(rows_.empty() && packed_.empty(), InvalidArgument,
                 "Linear::to_device: the weight is packed for a CPU kernel");
  CHATTERD_CHECK(dtype == DType::BF16 || dtype == DType::F16 || dtype == DType::F32,
                 InvalidArgument, "Linear::to_device: no {} weights on the device",
                 dtype_name(dtype));
  if (weight_.device() == Device::CUDA) return;
  convert_weight(ctx, dtype);
  // f16/f32 keep a GPT-2 layout; the device needs "out x in".
  if (layout_ == ops::WeightLayout::InOut) {
    Tensor t;
    ops::transpose(ctx, weight_, 0, 1, t);
    weight_ = std::move(t);
    layout_ = ops::WeightLayout::OutIn;
  }
  weight_ = ops::to_device(ctx, weight_);
  if (has_bias_) bias_ = ops::to_device(ctx, bias_);
}

void Linear::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  if (!packed_.empty()) return ops::linear_bf16(ctx, x, packed_, has_bias_ ? &bias_ : nullptr, out);
  if (!rows_.empty())
    return ops::linear_quant_rows(ctx, x, rows_, has_bias_ ? &bias_ : nullptr, out);
  ops::linear(ctx, x, weight_, has_bias_ ? &bias_ : nullptr, out, layout_);
}

}  // namespace chatterd::layers
