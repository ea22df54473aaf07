#pragma once
// Reader for GGUF model files, versions 2 and 3 (little-endian).
//
// Layout: "GGUF", u32 version, u64 tensor count, u64 metadata count; the metadata entries
// (string key, u32 value type, value); the tensor infos (string name, u32 dimension count, u64
// dimensions with the contiguous one first, u32 ggml type, u64 offset into the data section); then
// the data section, which starts at the next multiple of `general.alignment` (default 32). Strings
// are a u64 byte length followed by the bytes; arrays are a u32 element type, a u64 element count
// and the elements, which may themselves be arrays.
//
// Everything is validated when the file is opened, so a malformed file fails there with an
// act::FormatError naming the file, the entry and the byte position, never later or by crashing:
// counts and lengths against the bytes actually left and against fixed limits, all arithmetic on
// file values with overflow checks, tensor shapes, types, alignment and data ranges. Metadata
// values are checked at open but decoded only when asked for, straight from the file bytes.
//
// Tensor types: open() accepts every type whose block layout ggml_types.hpp knows, so it can check
// the data range of each tensor, and throws act::UnsupportedError for type ids it does not know.
// Whether a known type can be decoded is dequantize()'s business (it throws UnsupportedError).
// Version 1 files and big-endian files are well formed but unsupported (act::UnsupportedError).
#include <act/core/error.hpp>
#include <act/io/ggml_types.hpp>
#include <act/io/mapped_file.hpp>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace act::io {

enum class GgufValueType : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

constexpr std::string_view value_type_name(GgufValueType type) noexcept {
  constexpr std::array<std::string_view, 13> names{"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                   "bool", "string", "array", "u64", "i64", "f64"};
  const auto index = static_cast<std::uint32_t>(type);
  return index < names.size() ? names[index] : "unknown";
}

// Fixed limits beyond which a file is rejected as malformed. Every count is also checked against
// the bytes left in the file, so no limit alone decides how much memory a reader allocates.
namespace gguf_limits {
inline constexpr std::uint64_t max_key_length = 65535;  // the GGUF spec's bound on keys
inline constexpr std::uint64_t max_tensor_name_length = 65535;
inline constexpr std::uint64_t max_string_length = std::uint64_t{1} << 26;
inline constexpr std::uint64_t max_array_length = std::uint64_t{1} << 28;
inline constexpr int max_array_depth = 8;  // arrays of arrays of ... (the outermost counts as 1)
inline constexpr std::uint64_t max_metadata_entries = std::uint64_t{1} << 20;
inline constexpr std::uint64_t max_tensors = std::uint64_t{1} << 20;
inline constexpr std::uint32_t max_dims = 4;
inline constexpr std::uint64_t max_element_count = std::numeric_limits<std::int64_t>::max();
inline constexpr std::uint64_t default_alignment = 32;
}  // namespace gguf_limits

struct GgufTensorInfo {
  std::string name;
  GgmlType type;
  std::vector<std::uint64_t> dims;  // dims[0] is the contiguous (row) dimension
  std::uint64_t offset;             // from the start of the data section, as stored in the file
  std::uint64_t element_count;
  std::uint64_t byte_size;
};

// One metadata entry as found in the file; the getters decode its value on demand.
struct GgufMetadataEntry {
  std::string key;
  GgufValueType type;
  GgufValueType element_type;  // arrays only: the elements' type
  std::uint64_t array_length;  // arrays only: the element count
  std::size_t value_offset;    // file position of the value (arrays: of the first element)
};

namespace detail {

inline std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) noexcept {
  if (a > std::numeric_limits<std::uint64_t>::max() - b) return std::nullopt;
  return a + b;
}

inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) noexcept {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return std::nullopt;
  return a * b;
}

// Sequential little-endian reader over the file bytes. Every read is bounds-checked; a failure
// throws FormatError naming the source, what is being read (the context) and the byte position.
class GgufCursor {
 public:
  GgufCursor(std::span<const std::byte> bytes, const std::string& source, std::size_t position = 0)
      : bytes_(bytes), source_(source), position_(position) {}

  template <class Unsigned>
  Unsigned read() {
    require_bytes(sizeof(Unsigned), "a value");
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
      value |= std::to_integer<std::uint64_t>(bytes_[position_ + i]) << (8 * i);
    }
    position_ += sizeof(Unsigned);
    return static_cast<Unsigned>(value);
  }

  // A length-prefixed string; the view points into the file bytes.
  std::string_view read_string(std::uint64_t max_length) {
    const auto length = read<std::uint64_t>();
    if (length > max_length) {
      fail("string length " + std::to_string(length) + " exceeds the limit of " + std::to_string(max_length));
    }
    require_bytes(length, "the string");
    const std::string_view text(reinterpret_cast<const char*>(bytes_.data()) + position_,
                                static_cast<std::size_t>(length));
    position_ += static_cast<std::size_t>(length);
    return text;
  }

  void skip(std::uint64_t count) {
    require_bytes(count, "the value");
    position_ += static_cast<std::size_t>(count);
  }

  std::size_t position() const noexcept { return position_; }
  std::uint64_t remaining() const noexcept { return bytes_.size() - position_; }
  void set_context(std::string context) { context_ = std::move(context); }

  [[noreturn]] void fail(const std::string& problem) const {
    throw FormatError(source_ + ": " + context_ + ": " + problem + " (at byte " + std::to_string(position_) + ")");
  }

 private:
  void require_bytes(std::uint64_t count, const char* what) const {
    if (count > remaining()) {
      fail("file ends before " + std::string(what) + " (" + std::to_string(count) + " bytes needed, " +
           std::to_string(remaining()) + " left)");
    }
  }

  std::span<const std::byte> bytes_;
  const std::string& source_;
  std::size_t position_;
  std::string context_ = "header";
};

// A decoded scalar: unsigned and signed integers widened to 64 bits, floats to double.
using GgufScalar = std::variant<std::uint64_t, std::int64_t, double, bool, std::string_view>;

// Encoded size of fixed-size scalars; 0 for strings and arrays.
constexpr std::uint64_t fixed_value_size(GgufValueType type) noexcept {
  switch (type) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean: return 1;
    case GgufValueType::u16:
    case GgufValueType::i16: return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32: return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64: return 8;
    case GgufValueType::string:
    case GgufValueType::array: return 0;
  }
  return 0;
}

// Fewest bytes a value can take: a string is at least its length field, an array at least its
// element type and count.
constexpr std::uint64_t min_value_size(GgufValueType type) noexcept {
  if (type == GgufValueType::string) return 8;
  if (type == GgufValueType::array) return 12;
  return fixed_value_size(type);
}

inline GgufValueType read_value_type(GgufCursor& cursor) {
  const auto id = cursor.read<std::uint32_t>();
  if (id > static_cast<std::uint32_t>(GgufValueType::f64)) {
    cursor.fail("unknown metadata value type " + std::to_string(id));
  }
  return static_cast<GgufValueType>(id);
}

template <class Signed, class Unsigned>
std::int64_t read_signed(GgufCursor& cursor) {
  return static_cast<Signed>(cursor.read<Unsigned>());  // two's complement reinterpretation
}

template <class Float, class Bits>
double read_float(GgufCursor& cursor) {
  return static_cast<double>(std::bit_cast<Float>(cursor.read<Bits>()));
}

// Decodes a scalar of `type` (not an array) at the cursor.
inline GgufScalar read_scalar(GgufCursor& cursor, GgufValueType type) {
  switch (type) {
    case GgufValueType::u8: return std::uint64_t{cursor.read<std::uint8_t>()};
    case GgufValueType::u16: return std::uint64_t{cursor.read<std::uint16_t>()};
    case GgufValueType::u32: return std::uint64_t{cursor.read<std::uint32_t>()};
    case GgufValueType::u64: return cursor.read<std::uint64_t>();
    case GgufValueType::i8: return read_signed<std::int8_t, std::uint8_t>(cursor);
    case GgufValueType::i16: return read_signed<std::int16_t, std::uint16_t>(cursor);
    case GgufValueType::i32: return read_signed<std::int32_t, std::uint32_t>(cursor);
    case GgufValueType::i64: return read_signed<std::int64_t, std::uint64_t>(cursor);
    case GgufValueType::f32: return read_float<float, std::uint32_t>(cursor);
    case GgufValueType::f64: return read_float<double, std::uint64_t>(cursor);
    case GgufValueType::boolean: {
      const auto byte = cursor.read<std::uint8_t>();
      if (byte > 1) cursor.fail("bool value is " + std::to_string(byte) + ", not 0 or 1");
      return byte == 1;
    }
    case GgufValueType::string: return cursor.read_string(gguf_limits::max_string_length);
    case GgufValueType::array: break;
  }
  cursor.fail("an array where a scalar was expected");
}

struct GgufArrayHeader {
  GgufValueType element_type;
  std::uint64_t length;
};

// `depth` is the nesting level of the array being read (1 for a top-level array).
inline GgufArrayHeader read_array_header(GgufCursor& cursor, int depth) {
  if (depth > gguf_limits::max_array_depth) {
    cursor.fail("arrays nested deeper than " + std::to_string(gguf_limits::max_array_depth));
  }
  const GgufValueType element_type = read_value_type(cursor);
  const auto length = cursor.read<std::uint64_t>();
  if (length > gguf_limits::max_array_length || length > cursor.remaining() / min_value_size(element_type)) {
    cursor.fail("array of " + std::to_string(length) + " " + std::string(value_type_name(element_type)) +
                " elements cannot fit in the " + std::to_string(cursor.remaining()) +
                " bytes left or exceeds the limit of " + std::to_string(gguf_limits::max_array_length));
  }
  return {element_type, length};
}

// Checks a value of `type` and moves past it; `depth` is the nesting level of its array, if any.
inline void skip_value(GgufCursor& cursor, GgufValueType type, int depth);

inline void skip_array_elements(GgufCursor& cursor, GgufArrayHeader header, int depth) {
  const std::uint64_t fixed_size = fixed_value_size(header.element_type);
  if (fixed_size != 0 && header.element_type != GgufValueType::boolean) {
    cursor.skip(header.length * fixed_size);  // cannot overflow: length <= remaining / size
    return;
  }
  for (std::uint64_t i = 0; i < header.length; ++i) skip_value(cursor, header.element_type, depth);
}

inline void skip_value(GgufCursor& cursor, GgufValueType type, int depth) {
  if (type == GgufValueType::array) {
    skip_array_elements(cursor, read_array_header(cursor, depth + 1), depth + 1);
  } else {
    read_scalar(cursor, type);
  }
}

// Conversions the getters offer; nullopt when the scalar does not convert.
inline std::optional<std::uint64_t> to_uint(const GgufScalar& scalar) {
  if (const auto* u = std::get_if<std::uint64_t>(&scalar)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(&scalar); i && *i >= 0) {
    return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

inline std::optional<std::int32_t> to_int32(const GgufScalar& scalar) {
  using Limits = std::numeric_limits<std::int32_t>;
  if (const auto* u = std::get_if<std::uint64_t>(&scalar); u && *u <= std::uint64_t{Limits::max()}) {
    return static_cast<std::int32_t>(*u);
  }
  if (const auto* i = std::get_if<std::int64_t>(&scalar); i && *i >= Limits::min() && *i <= Limits::max()) {
    return static_cast<std::int32_t>(*i);
  }
  return std::nullopt;
}

inline std::optional<float> to_float(const GgufScalar& scalar) {
  if (const auto* u = std::get_if<std::uint64_t>(&scalar)) return static_cast<float>(*u);
  if (const auto* i = std::get_if<std::int64_t>(&scalar)) return static_cast<float>(*i);
  if (const auto* d = std::get_if<double>(&scalar)) {
    // Narrowing a finite double beyond float's range is undefined behaviour, so refuse it.
    if (std::isfinite(*d) && std::fabs(*d) > double{std::numeric_limits<float>::max()}) {
      return std::nullopt;
    }
    return static_cast<float>(*d);
  }
  return std::nullopt;
}

inline std::optional<bool> to_bool(const GgufScalar& scalar) {
  if (const auto* b = std::get_if<bool>(&scalar)) return *b;
  return std::nullopt;
}

inline std::optional<std::string> to_string(const GgufScalar& scalar) {
  if (const auto* s = std::get_if<std::string_view>(&scalar)) return std::string(*s);
  return std::nullopt;
}

// "i32 -5", "string 'abc'": for messages about values that do not convert.
inline std::string describe(GgufValueType type, const GgufScalar& scalar) {
  std::ostringstream text;
  text << value_type_name(type) << ' ' << std::boolalpha;
  std::visit(
      [&text](const auto& value) {
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string_view>) {
          constexpr std::size_t shown = 40;
          text << '\'' << value.substr(0, shown) << (value.size() > shown ? "...'" : "'");
        } else {
          text << value;
        }
      },
      scalar);
  return text.str();
}

// "i32", "array of string": the declared type of an entry.
inline std::string type_description(const GgufMetadataEntry& entry) {
  if (entry.type != GgufValueType::array) return std::string(value_type_name(entry.type));
  return "array of " + std::string(value_type_name(entry.element_type));
}

}  // namespace detail

class GgufFile {
 public:
  // Maps the file; throws act::Error if it cannot be read, FormatError if it is malformed and
  // UnsupportedError for well-formed input this reader does not handle.
  static GgufFile open(const std::filesystem::path& path) {
    return GgufFile(Storage{std::in_place_type<MappedFile>, path}, path.string());
  }

  // Parses a copy of `bytes`; `name` stands for the file in messages.
  static GgufFile parse(std::span<const std::byte> bytes, std::string name) {
    return GgufFile(Storage{std::in_place_type<std::vector<std::byte>>, bytes.begin(), bytes.end()}, std::move(name));
  }

  std::uint32_t version() const noexcept { return version_; }
  const std::string& name() const noexcept { return name_; }
  std::uint64_t alignment() const noexcept { return alignment_; }
  std::uint64_t data_offset() const noexcept { return data_offset_; }  // start of the data section
  std::span<const std::byte> bytes() const noexcept {
    return std::visit([](const auto& storage) { return as_bytes(storage); }, storage_);
  }

  // Metadata in file order.
  const std::vector<GgufMetadataEntry>& metadata() const noexcept { return metadata_; }
  const GgufMetadataEntry* find_entry(std::string_view key) const {
    const auto found = metadata_index_.find(key);
    return found == metadata_index_.end() ? nullptr : &metadata_[found->second];
  }
  bool has(std::string_view key) const { return find_entry(key) != nullptr; }

  // Getters throw FormatError naming the key when it is missing or its value does not convert.
  // find_* return nullopt for a missing key but still throw for a value that does not convert.
  std::string get_string(std::string_view key) const {
    return convert_scalar<std::string>(required_entry(key), detail::to_string, "a string");
  }
  // Any integer type holding a non-negative value.
  std::uint64_t get_uint(std::string_view key) const {
    return convert_scalar<std::uint64_t>(required_entry(key), detail::to_uint, "a non-negative integer");
  }
  // f32, f64 (within float's range) or any integer.
  float get_float(std::string_view key) const {
    return convert_scalar<float>(required_entry(key), detail::to_float, "a number");
  }
  bool get_bool(std::string_view key) const {
    return convert_scalar<bool>(required_entry(key), detail::to_bool, "a bool");
  }

  std::optional<std::string> find_string(std::string_view key) const {
    return find_scalar<std::string>(key, detail::to_string, "a string");
  }
  std::optional<std::uint64_t> find_uint(std::string_view key) const {
    return find_scalar<std::uint64_t>(key, detail::to_uint, "a non-negative integer");
  }
  std::optional<float> find_float(std::string_view key) const {
    return find_scalar<float>(key, detail::to_float, "a number");
  }
  std::optional<bool> find_bool(std::string_view key) const {
    return find_scalar<bool>(key, detail::to_bool, "a bool");
  }

  std::vector<std::string> get_string_array(std::string_view key) const {
    return convert_array<std::string>(required_entry(key), detail::to_string, "a string");
  }
  // Elements as get_float converts them.
  std::vector<float> get_float_array(std::string_view key) const {
    return convert_array<float>(required_entry(key), detail::to_float, "a number");
  }
  // Elements of any integer type whose values fit in int32.
  std::vector<std::int32_t> get_int_array(std::string_view key) const {
    return convert_array<std::int32_t>(required_entry(key), detail::to_int32, "an int32");
  }

  const std::vector<GgufTensorInfo>& tensors() const noexcept { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view tensor_name) const {
    const auto found = tensor_index_.find(tensor_name);
    return found == tensor_index_.end() ? nullptr : &tensors_[found->second];
  }
  const GgufTensorInfo& tensor(std::string_view tensor_name) const {
    if (const GgufTensorInfo* info = find_tensor(tensor_name)) return *info;
    throw FormatError(name_ + ": no tensor named '" + std::string(tensor_name) + "'");
  }

  // The tensor's data inside the file. `info` must come from this file (std::invalid_argument
  // if its range does not lie inside it).
  std::span<const std::byte> tensor_bytes(const GgufTensorInfo& info) const {
    const auto start = data_start(info);
    if (!start) {
      throw std::invalid_argument(name_ + ": tensor info '" + info.name + "' does not describe data inside this file");
    }
    return bytes().subspan(static_cast<std::size_t>(*start), static_cast<std::size_t>(info.byte_size));
  }

 private:
  using Storage = std::variant<MappedFile, std::vector<std::byte>>;

  static std::span<const std::byte> as_bytes(const MappedFile& file) noexcept { return file.bytes(); }
  static std::span<const std::byte> as_bytes(const std::vector<std::byte>& copy) noexcept { return copy; }

  GgufFile(Storage storage, std::string name) : storage_(std::move(storage)), name_(std::move(name)) {
    detail::GgufCursor cursor(bytes(), name_);
    const auto [tensor_count, metadata_count] = read_header(cursor);
    read_metadata(cursor, metadata_count);
    alignment_ = read_alignment();
    read_tensor_infos(cursor, tensor_count);
    // Cannot overflow: the position is at most the file size and the padding below the alignment.
    data_offset_ = cursor.position() + padding_to_alignment(cursor.position());
    for (const GgufTensorInfo& info : tensors_) check_data_range(info);
  }

  struct Counts {
    std::uint64_t tensors;
    std::uint64_t metadata;
  };

  // Smallest encodings, used to reject counts the remaining bytes cannot hold: a metadata entry
  // has a non-empty key, a value type and at least one value byte; a tensor info a non-empty
  // name, one dimension, a type and an offset.
  static constexpr std::uint64_t min_metadata_entry_bytes = 8 + 1 + 4 + 1;
  static constexpr std::uint64_t min_tensor_info_bytes = 8 + 1 + 4 + 8 + 4 + 8;

  Counts read_header(detail::GgufCursor& cursor) {
    constexpr std::array<std::byte, 4> magic{std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}};
    const auto file = bytes();
    if (file.size() < magic.size() || !std::equal(magic.begin(), magic.end(), file.begin())) {
      cursor.fail("not a GGUF file (missing 'GGUF' magic)");
    }
    cursor.skip(magic.size());
    version_ = cursor.read<std::uint32_t>();
    check_version(cursor);
    const Counts counts{cursor.read<std::uint64_t>(), cursor.read<std::uint64_t>()};
    check_count(cursor, counts.tensors, gguf_limits::max_tensors, min_tensor_info_bytes, "tensor");
    check_count(cursor, counts.metadata, gguf_limits::max_metadata_entries, min_metadata_entry_bytes, "metadata entry");
    return counts;
  }

  void check_version(const detail::GgufCursor& cursor) const {
    if (version_ == 2 || version_ == 3) return;
    if (version_ == 1) {
      throw UnsupportedError(name_ + ": GGUF version 1 is not supported (only versions 2 and 3)");
    }
    if (version_ == 0x02000000 || version_ == 0x03000000) {
      throw UnsupportedError(name_ + ": big-endian GGUF files are not supported");
    }
    cursor.fail("unknown GGUF version " + std::to_string(version_));
  }

  static void check_count(const detail::GgufCursor& cursor, std::uint64_t count, std::uint64_t limit,
                          std::uint64_t min_bytes_each, const char* what) {
    if (count > limit || count > cursor.remaining() / min_bytes_each) {
      cursor.fail(std::string(what) + " count " + std::to_string(count) + " exceeds the limit of " +
                  std::to_string(limit) + " or cannot fit in the " + std::to_string(cursor.remaining()) +
                  " bytes left");
    }
  }

  void read_metadata(detail::GgufCursor& cursor, std::uint64_t count) {
    metadata_.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      cursor.set_context("metadata entry " + std::to_string(i));
      std::string key(cursor.read_string(gguf_limits::max_key_length));
      if (key.empty()) cursor.fail("empty key");
      cursor.set_context("metadata key '" + key + "'");
      if (metadata_index_.contains(key)) cursor.fail("duplicate key");
      GgufMetadataEntry parsed{std::move(key), detail::read_value_type(cursor), GgufValueType::u8, 0, 0};
      if (parsed.type == GgufValueType::array) {
        const detail::GgufArrayHeader header = detail::read_array_header(cursor, 1);
        parsed.element_type = header.element_type;
        parsed.array_length = header.length;
        parsed.value_offset = cursor.position();
        detail::skip_array_elements(cursor, header, 1);
      } else {
        parsed.value_offset = cursor.position();
        detail::skip_value(cursor, parsed.type, 0);
      }
      metadata_index_.emplace(parsed.key, metadata_.size());
      metadata_.push_back(std::move(parsed));
    }
  }

  std::uint64_t read_alignment() const {
    const auto alignment = find_uint("general.alignment");
    if (!alignment) return gguf_limits::default_alignment;
    if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0) {
      throw FormatError(name_ + ": general.alignment " + std::to_string(*alignment) + " is not a power of two");
    }
    return *alignment;
  }

  void read_tensor_infos(detail::GgufCursor& cursor, std::uint64_t count) {
    tensors_.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      cursor.set_context("tensor info " + std::to_string(i));
      GgufTensorInfo info{};
      info.name = cursor.read_string(gguf_limits::max_tensor_name_length);
      if (info.name.empty()) cursor.fail("empty tensor name");
      cursor.set_context("tensor '" + info.name + "'");
      if (tensor_index_.contains(info.name)) cursor.fail("duplicate tensor name");
      read_shape(cursor, info);
      const auto type_id = cursor.read<std::uint32_t>();
      const auto traits = find_type_traits(type_id);
      if (!traits) {
        throw UnsupportedError(name_ + ": tensor '" + info.name + "' has unknown ggml type id " +
                               std::to_string(type_id));
      }
      info.type = traits->type;
      info.offset = cursor.read<std::uint64_t>();
      check_layout(cursor, info, *traits);
      tensor_index_.emplace(info.name, tensors_.size());
      tensors_.push_back(std::move(info));
    }
  }

  static void read_shape(detail::GgufCursor& cursor, GgufTensorInfo& info) {
    const auto dim_count = cursor.read<std::uint32_t>();
    if (dim_count == 0 || dim_count > gguf_limits::max_dims) {
      cursor.fail("dimension count " + std::to_string(dim_count) + " is not between 1 and " +
                  std::to_string(gguf_limits::max_dims));
    }
    info.element_count = 1;
    for (std::uint32_t d = 0; d < dim_count; ++d) {
      info.dims.push_back(cursor.read<std::uint64_t>());
      const auto count = detail::checked_mul(info.element_count, info.dims.back());
      if (info.dims.back() > gguf_limits::max_element_count || !count || *count > gguf_limits::max_element_count) {
        cursor.fail("shape has more than " + std::to_string(gguf_limits::max_element_count) + " elements");
      }
      info.element_count = *count;
    }
  }

  void check_layout(const detail::GgufCursor& cursor, GgufTensorInfo& info, const GgmlTypeTraits& traits) const {
    if (info.dims[0] % traits.block_size != 0) {
      cursor.fail("row length " + std::to_string(info.dims[0]) + " is not a multiple of the " +
                  std::string(traits.name) + " block size " + std::to_string(traits.block_size));
    }
    const auto byte_size = detail::checked_mul(info.element_count / traits.block_size, traits.block_bytes);
    if (!byte_size) cursor.fail("data size overflows 64 bits");
    info.byte_size = *byte_size;
    if (info.offset % alignment_ != 0) {
      cursor.fail("data offset " + std::to_string(info.offset) + " is not a multiple of the " + "alignment " +
                  std::to_string(alignment_));
    }
  }

  std::uint64_t padding_to_alignment(std::uint64_t position) const noexcept {
    return (alignment_ - position % alignment_) % alignment_;
  }

  // File position of the tensor's data if all of it lies inside the file.
  std::optional<std::uint64_t> data_start(const GgufTensorInfo& info) const noexcept {
    const auto start = detail::checked_add(data_offset_, info.offset);
    const auto end = start ? detail::checked_add(*start, info.byte_size) : std::nullopt;
    if (!end || *end > bytes().size()) return std::nullopt;
    return start;
  }

  void check_data_range(const GgufTensorInfo& info) const {
    if (data_start(info)) return;
    throw FormatError(name_ + ": tensor '" + info.name + "' data (" + std::to_string(info.byte_size) +
                      " bytes at offset " + std::to_string(info.offset) +
                      " in the data section, which starts at byte " + std::to_string(data_offset_) +
                      ") lies outside the file (size " + std::to_string(bytes().size()) + ")");
  }

  const GgufMetadataEntry& required_entry(std::string_view key) const {
    if (const GgufMetadataEntry* found = find_entry(key)) return *found;
    throw FormatError(name_ + ": metadata key '" + std::string(key) + "' is missing");
  }

  [[noreturn]] void fail_entry(const GgufMetadataEntry& entry, const std::string& problem) const {
    throw FormatError(name_ + ": metadata key '" + entry.key + "' " + problem);
  }

  template <class T, class Convert>
  T convert_scalar(const GgufMetadataEntry& entry, Convert convert, const char* expected) const {
    if (entry.type == GgufValueType::array) {
      fail_entry(entry, "has type " + detail::type_description(entry) + "; expected " + expected);
    }
    detail::GgufCursor cursor(bytes(), name_, entry.value_offset);
    const detail::GgufScalar value = detail::read_scalar(cursor, entry.type);
    if (auto converted = convert(value)) return *std::move(converted);
    fail_entry(entry, "holds " + detail::describe(entry.type, value) + "; expected " + expected);
  }

  template <class T, class Convert>
  std::optional<T> find_scalar(std::string_view key, Convert convert, const char* expected) const {
    if (const GgufMetadataEntry* found = find_entry(key)) {
      return convert_scalar<T>(*found, convert, expected);
    }
    return std::nullopt;
  }

  template <class T, class Convert>
  std::vector<T> convert_array(const GgufMetadataEntry& entry, Convert convert, const char* expected) const {
    if (entry.type != GgufValueType::array || entry.element_type == GgufValueType::array) {
      fail_entry(entry,
                 "has type " + detail::type_description(entry) + "; expected an array of " + expected + " values");
    }
    detail::GgufCursor cursor(bytes(), name_, entry.value_offset);
    std::vector<T> values;
    values.reserve(static_cast<std::size_t>(entry.array_length));
    for (std::uint64_t i = 0; i < entry.array_length; ++i) {
      const detail::GgufScalar value = detail::read_scalar(cursor, entry.element_type);
      auto converted = convert(value);
      if (!converted) {
        fail_entry(entry, "element " + std::to_string(i) + " holds " + detail::describe(entry.element_type, value) +
                              "; expected " + expected);
      }
      values.push_back(*std::move(converted));
    }
    return values;
  }

  Storage storage_;
  std::string name_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = gguf_limits::default_alignment;
  std::uint64_t data_offset_ = 0;
  std::vector<GgufMetadataEntry> metadata_;
  std::map<std::string, std::size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

}  // namespace act::io
