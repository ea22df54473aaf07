#pragma once
// Load-time checks of a GGUF file's tensor data that GgufFile::open does not make because the file
// is still well formed: tensors whose data ranges overlap, and non-finite weights. Each finding is
// a GgufWarning for the caller to report (the library prints nothing); neither is an error:
// - Overlapping ranges read the same bytes as two tensors. Nothing is out of bounds, but no writer
//   produces them on purpose, so they mean a damaged or hand-edited file.
// - A NaN or infinite weight may sit where a run never reads it (the embedding row of an unused
//   token); where a run does read it, the non-finite value reaches the logits and the sampler stops
//   with an error naming the token (model/sampler.hpp). A warning at load says where it came from.
//
// Non-finite values are found from the bit patterns (all exponent bits set), so the scan reads each
// stored scale or value once and decodes nothing: every element of F32, F16 and BF16 tensors, and
// the f16 block scales (d, and m or dmin where the type has them) of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K and Q6_K; the quants themselves are small integers, so a block of those types decodes
// to non-finite values exactly when one of its scales is non-finite. Other types are not scanned.
#include <act/io/gguf.hpp>
#include <act/io/quant_blocks.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace act::io {

enum class GgufWarningKind { overlapping_data, non_finite_weights, more_warnings };

struct GgufWarning {
  GgufWarningKind kind;
  std::string message;  // names the file and the tensors
};

// A hostile file may hold a million tensors at one offset: past this many warnings of one kind,
// one more_warnings entry counts the rest.
inline constexpr std::size_t max_warnings_per_kind = 8;

namespace detail {

// Where a type keeps the values whose bit patterns tell a non-finite weight: each block of
// `block_bytes` bytes holds one `value_bytes`-wide value at each offset in `offsets`, non-finite
// when the bits under `exponent_mask` are all set.
struct FiniteScan {
  std::size_t block_bytes;
  std::size_t value_bytes;
  std::uint32_t exponent_mask;
  std::vector<std::size_t> offsets;
  bool per_element;  // blocks are single elements (float types), else quantised blocks
};

inline constexpr std::uint32_t f32_exponent = 0x7F800000u, f16_exponent = 0x7C00u, bf16_exponent = 0x7F80u;

inline std::optional<FiniteScan> finite_scan(GgmlType type) {
  const auto halves = [](std::size_t bytes, std::vector<std::size_t> offsets) {
    return FiniteScan{bytes, 2, f16_exponent, std::move(offsets), false};
  };
  switch (type) {
    case GgmlType::f32: return FiniteScan{4, 4, f32_exponent, {0}, true};
    case GgmlType::f16: return FiniteScan{2, 2, f16_exponent, {0}, true};
    case GgmlType::bf16: return FiniteScan{2, 2, bf16_exponent, {0}, true};
    case GgmlType::q4_0: return halves(sizeof(BlockQ4_0), {offsetof(BlockQ4_0, d)});
    case GgmlType::q4_1: return halves(sizeof(BlockQ4_1), {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)});
    case GgmlType::q5_0: return halves(sizeof(BlockQ5_0), {offsetof(BlockQ5_0, d)});
    case GgmlType::q5_1: return halves(sizeof(BlockQ5_1), {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)});
    case GgmlType::q8_0: return halves(sizeof(BlockQ8_0), {offsetof(BlockQ8_0, d)});
    case GgmlType::q4_k: return halves(sizeof(BlockQ4K), {offsetof(BlockQ4K, d), offsetof(BlockQ4K, dmin)});
    case GgmlType::q5_k: return halves(sizeof(BlockQ5K), {offsetof(BlockQ5K, d), offsetof(BlockQ5K, dmin)});
    case GgmlType::q6_k: return halves(sizeof(BlockQ6K), {offsetof(BlockQ6K, d)});
    default: return std::nullopt;
  }
}

// Little-endian value of `size` (2 or 4) bytes at `at`.
inline std::uint32_t load_bits(const std::byte* at, std::size_t size) noexcept {
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < size; ++i) bits |= std::to_integer<std::uint32_t>(at[i]) << (8 * i);
  return bits;
}

struct NonFiniteCount {
  std::uint64_t blocks = 0;  // blocks (elements, for float types) with a non-finite value
  std::uint64_t first = 0;   // index of the first such block
};

inline NonFiniteCount count_non_finite(std::span<const std::byte> data, const FiniteScan& scan) {
  NonFiniteCount found;
  const std::size_t blocks = data.size() / scan.block_bytes;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::byte* block = data.data() + b * scan.block_bytes;
    const bool bad = std::any_of(scan.offsets.begin(), scan.offsets.end(), [&](std::size_t offset) {
      return (load_bits(block + offset, scan.value_bytes) & scan.exponent_mask) == scan.exponent_mask;
    });
    if (bad && found.blocks++ == 0) found.first = b;
  }
  return found;
}

// Keeps the first max_warnings_per_kind warnings of a kind and counts the rest.
class WarningList {
 public:
  WarningList(std::string file, std::string what) : file_(std::move(file)), what_(std::move(what)) {}
  void add(GgufWarningKind kind, std::string message) {
    if (warnings_.size() < max_warnings_per_kind) {
      warnings_.push_back({kind, file_ + ": " + message});
    } else {
      ++left_out_;
    }
  }
  std::vector<GgufWarning> take() && {
    if (left_out_ > 0)
      warnings_.push_back({GgufWarningKind::more_warnings,
                           file_ + ": " + std::to_string(left_out_) + " more " + what_ + " not listed"});
    return std::move(warnings_);
  }

 private:
  std::string file_, what_;
  std::vector<GgufWarning> warnings_;
  std::uint64_t left_out_ = 0;
};

inline std::string non_finite_message(const GgufTensorInfo& info, const FiniteScan& scan, NonFiniteCount found) {
  const std::string head = "tensor '" + info.name + "' (" + std::string(type_name(info.type)) + ") has ";
  if (scan.per_element)
    return head + std::to_string(found.blocks) + " non-finite weight(s), the first at element " +
           std::to_string(found.first);
  const std::uint64_t elements = block_size(info.type);
  return head + std::to_string(found.blocks) + " block(s) with a non-finite scale, the first is block " +
         std::to_string(found.first) + " (elements " + std::to_string(found.first * elements) + " to " +
         std::to_string(found.first * elements + elements - 1) + ")";
}

}  // namespace detail

// Tensors whose data ranges share bytes (empty tensors share none): sorted by start, each tensor
// that starts inside an earlier one is named once, with the earlier one reaching furthest, so every
// overlapping tensor is reported without listing all pairs (a hostile file could make n^2). O(n log n).
inline std::vector<GgufWarning> overlapping_tensors(const GgufFile& file) {
  const std::vector<GgufTensorInfo>& tensors = file.tensors();
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::erase_if(order, [&](std::size_t i) { return tensors[i].byte_size == 0; });
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return tensors[a].offset != tensors[b].offset ? tensors[a].offset < tensors[b].offset : a < b;
  });
  detail::WarningList warnings(file.name(), "overlapping tensor(s)");
  std::optional<std::size_t> furthest;
  for (const std::size_t i : order) {
    const GgufTensorInfo& info = tensors[i];
    if (furthest) {
      const GgufTensorInfo& before = tensors[*furthest];
      const std::uint64_t before_end = before.offset + before.byte_size;  // checked at open
      if (info.offset < before_end)
        warnings.add(GgufWarningKind::overlapping_data,
                     "the data of tensors '" + before.name + "' and '" + info.name + "' overlap (bytes " +
                         std::to_string(info.offset) + " to " +
                         std::to_string(std::min(before_end, info.offset + info.byte_size) - 1) +
                         " of the data section)");
      if (info.offset + info.byte_size <= before_end) continue;
    }
    furthest = i;
  }
  return std::move(warnings).take();
}

// One warning per tensor holding non-finite weights (see the file comment for what is scanned).
inline std::vector<GgufWarning> non_finite_weights(const GgufFile& file) {
  detail::WarningList warnings(file.name(), "tensor(s) with non-finite weights");
  for (const GgufTensorInfo& info : file.tensors()) {
    const auto scan = detail::finite_scan(info.type);
    if (!scan) continue;
    const detail::NonFiniteCount found = detail::count_non_finite(file.tensor_bytes(info), *scan);
    if (found.blocks > 0)
      warnings.add(GgufWarningKind::non_finite_weights, detail::non_finite_message(info, *scan, found));
  }
  return std::move(warnings).take();
}

// Both checks: what a model loader reports once the file has opened.
inline std::vector<GgufWarning> check_tensor_data(const GgufFile& file) {
  std::vector<GgufWarning> warnings = overlapping_tensors(file);
  std::vector<GgufWarning> non_finite = non_finite_weights(file);
  warnings.insert(warnings.end(), std::make_move_iterator(non_finite.begin()),
                  std::make_move_iterator(non_finite.end()));
  return warnings;
}

}  // namespace act::io
