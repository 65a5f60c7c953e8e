#include "core/check.h"
#include "parity/parity.h"

namespace chatterd::parity {

// Not implemented yet: the stage this golden checks has not been ported.
ParityReport run_s3gen_hift_parity(const std::filesystem::path& /*model_dir*/,
                                   const std::filesystem::path& golden,
                                   const ParityOptions& /*options*/) {
  CHATTERD_THROW(Unsupported, "{}: parity for this golden kind is not implemented yet",
                 golden.string());
}

}  // namespace chatterd::parity
