#pragma once
// Streaming reader for JSON Lines: one JSON value per line, blank lines skipped. Every error names
// the source, the line and (for syntax errors) the column, so a bad row in a 10k-line file is found
// at once. Any byte sequence is safe input: nlohmann's parser is iterative and validates UTF-8, and
// its one non-syntax error (a number beyond double's range) is reported like the others.
#include <act/core/error.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace act::io {

// One parsed line with accessors that say which field was wrong and where.
class JsonlRecord {
 public:
  JsonlRecord(nlohmann::json value, std::string source, std::size_t line)
      : value_(std::move(value)), source_(std::move(source)), line_(line) {}

  const nlohmann::json& value() const noexcept { return value_; }
  std::size_t line() const noexcept { return line_; }
  const std::string& source() const noexcept { return source_; }

  bool has(std::string_view key) const { return value_.is_object() && value_.contains(key); }

  std::string string(std::string_view key) const {
    const auto& v = field(key);
    if (!v.is_string()) fail_type(key, "a string", v);
    return v.get<std::string>();
  }

  std::int64_t integer(std::string_view key) const {
    const auto& v = field(key);
    if (!v.is_number_integer()) fail_type(key, "an integer", v);
    return v.get<std::int64_t>();
  }

  // A non-negative integer below `limit`, e.g. a label index into `limit` classes.
  std::size_t index(std::string_view key, std::size_t limit = std::numeric_limits<std::size_t>::max()) const {
    const auto& v = field(key);
    const bool in_range = v.is_number_unsigned() && v.get<std::uint64_t>() < limit;
    if (!in_range) fail_type(key, "an integer in [0, " + std::to_string(limit) + ")", v);
    return static_cast<std::size_t>(v.get<std::uint64_t>());
  }

  double number(std::string_view key) const {
    const auto& v = field(key);
    if (!v.is_number()) fail_type(key, "a number", v);
    return v.get<double>();
  }

  std::vector<std::string> strings(std::string_view key) const {
    const auto& v = field(key);
    if (!v.is_array()) fail_type(key, "an array of strings", v);
    std::vector<std::string> out;
    out.reserve(v.size());
    for (const auto& item : v) {
      if (!item.is_string()) fail_type(key, "an array of strings", item);
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // "source:line: what", the prefix every error about this record uses.
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("act: " + source_ + ":" + std::to_string(line_) + ": " + what);
  }

 private:
  const nlohmann::json& field(std::string_view key) const {
    if (!value_.is_object()) fail(std::string("expected a JSON object, got ") + value_.type_name());
    const auto it = value_.find(key);
    if (it == value_.end()) fail("missing field \"" + std::string(key) + "\"");
    return *it;
  }

  // Names the type only: dumping the value could echo a huge or deeply nested line.
  [[noreturn]] void fail_type(std::string_view key, const std::string& expected, const nlohmann::json& got) const {
    std::string shown = got.type_name();
    if (got.is_number()) shown += " " + got.dump();
    fail("field \"" + std::string(key) + "\" must be " + expected + " (got " + shown + ")");
  }

  nlohmann::json value_;
  std::string source_;
  std::size_t line_;
};

namespace detail {

inline bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// nlohmann's message reads "... parse error at line 1, column 5: syntax error while parsing value -
// invalid literal; last read: '...'": keep the reason, drop the echo of raw (possibly binary) bytes.
inline std::string parse_reason(const std::string& message) {
  const auto start = message.find(": ", message.find("column"));
  if (start == std::string::npos) return "syntax error";
  const auto end = message.find("; last read", start);
  return message.substr(start + 2, end == std::string::npos ? std::string::npos : end - start - 2);
}

}  // namespace detail

class JsonlReader {
 public:
  // Reads from a file; throws act::Error if it cannot be opened.
  explicit JsonlReader(const std::filesystem::path& path)
      : owned_(std::make_unique<std::ifstream>(path, std::ios::binary)), in_(owned_.get()), source_(path.string()) {
    if (!*owned_) throw Error("act: cannot open " + source_);
  }
  // Reads from a stream the caller keeps alive; `source` names it in errors.
  JsonlReader(std::istream& in, std::string source) : in_(&in), source_(std::move(source)) {}

  // The next non-blank line, or nothing at the end. Throws act::FormatError on a malformed line.
  std::optional<JsonlRecord> next() {
    std::string line;
    while (std::getline(*in_, line)) {
      ++line_number_;
      if (detail::is_blank(line)) continue;
      try {
        return JsonlRecord(nlohmann::json::parse(line), source_, line_number_);
      } catch (const nlohmann::json::parse_error& e) {
        const std::size_t column = e.byte == 0 ? 1 : e.byte;
        throw FormatError("act: " + source_ + ":" + std::to_string(line_number_) + ": invalid JSON at column " +
                          std::to_string(column) + ": " + detail::parse_reason(e.what()));
      } catch (const nlohmann::json::out_of_range&) {  // a number beyond double's range; nlohmann gives no column
        throw FormatError("act: " + source_ + ":" + std::to_string(line_number_) +
                          ": invalid JSON: a number is out of range");
      }
    }
    if (in_->bad()) throw Error("act: read error in " + source_);
    return std::nullopt;
  }

  const std::string& source() const noexcept { return source_; }

 private:
  std::unique_ptr<std::ifstream> owned_;
  std::istream* in_;
  std::string source_;
  std::size_t line_number_ = 0;
};

// Every record of a file, for callers that want them all at once.
inline std::vector<JsonlRecord> read_jsonl(const std::filesystem::path& path) {
  JsonlReader reader(path);
  std::vector<JsonlRecord> records;
  while (auto record = reader.next()) records.push_back(std::move(*record));
  return records;
}

}  // namespace act::io
