// The AMX bf16 GEMM block (gemm_bf16.h). Compiled into the AVX-512 TU, each function behind its
// own target attribute: it runs only where cpuid reports AMX-BF16 and the kernel granted this
// process the tile state (gemm_bf16.cc checks both once).
//
// One block is 32 rows x 32 columns in four 16 x 16 f32 accumulator tiles (tmm0..3); per step of
// 32 input features two A tiles (rows 0..15 and 16..31, 16 x 32 bf16 each, loaded with the rows'
// stride) and two B tiles (columns 0..15 and 16..31 of the panel: 16 pairs x 16 columns x 2, the
// panel's [pairs][32][2] layout read with a 128-byte row stride) feed four tdpbf16ps, each 16 x
// 16 x 32 multiply-adds: 16x the work of one vdpbf16ps per instruction.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backends/cpu/gemm_bf16.h"

#define CHATTERD_AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

// The LDTILECFG memory layout (palette 1).
struct TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

}  // namespace

CHATTERD_AMX void amx_tiles_begin() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.rows[t] = 16;
    c.colsb[t] = 64;  // 16 f32, or 32 bf16, or 16 bf16 pairs
  }
  // Not _tile_loadconfig: GCC 12's version tells the compiler it reads 8 bytes, so the stores of
  // rows and colsb above were dropped as dead; the whole 64-byte object is the operand here.
  __asm__ volatile("ldtilecfg %0" : : "m"(c));
}

CHATTERD_AMX void amx_tiles_end() {
  _tile_release();
}

CHATTERD_AMX void gemm_bf16_block_amx(const BFloat16* const* a, std::int64_t a_stride, int segments,
                                      std::int64_t seg_pairs, const BFloat16* panel, float* out) {
  const auto row_bytes = static_cast<long>(a_stride * 2);
  constexpr long kPanelRowBytes = kPanelCols * 2 * 2;  // one pair row of the panel: 128 bytes
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int s = 0; s < segments; ++s) {
    const BFloat16* as = a[s];
    const BFloat16* bs = panel + s * seg_pairs * kPanelCols * 2;
    for (std::int64_t p = 0; p < seg_pairs; p += 16) {
      _tile_loadd(4, as + 2 * p, row_bytes);
      _tile_loadd(5, as + 16 * a_stride + 2 * p, row_bytes);
      _tile_loadd(6, bs + p * kPanelCols * 2, kPanelRowBytes);
      _tile_loadd(7, bs + p * kPanelCols * 2 + 32, kPanelRowBytes);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  constexpr long kOutBytes = kAmxBlockCols * 4;
  _tile_stored(0, out, kOutBytes);
  _tile_stored(1, out + 16, kOutBytes);
  _tile_stored(2, out + 16 * kAmxBlockCols, kOutBytes);
  _tile_stored(3, out + 16 * kAmxBlockCols + 16, kOutBytes);
}

}  // namespace chatterd::cpu
