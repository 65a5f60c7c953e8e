#pragma once
// An optional observer of S3Gen flow intermediates, for parity tests: called with the golden's
// `stage.name` key (e.g. "encoder.up_layer.out", "cfm.step1.x") and the value in the reference's
// layout (batch dim kept). The tensor may be a scratch buffer reused afterwards: clone to keep it.

#include <functional>
#include <string_view>

#include "chatterd/core/tensor.h"

namespace chatterd {

using FlowTap = std::function<void(std::string_view name, const Tensor& value)>;

// Calls `tap` when it is set.
inline void emit_tap(const FlowTap* tap, std::string_view name, const Tensor& value) {
  if (tap != nullptr && *tap) (*tap)(name, value);
}

}  // namespace chatterd
