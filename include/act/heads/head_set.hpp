#pragma once
// Which (layer, head) pairs are calibrated, with the hyper-parameters they were searched for and,
// optionally, what the search measured per head. Stored as JSON:
//
//   {
//     "format": "act-head-set", "version": 1,
//     "model": "SmolLM2-135M-Instruct", "beta": 0.4, "tau": 0.1,
//     "heads": [[3, 5], [4, 0]],
//     "measurements": [{"layer": 3, "head": 5, "values": {"accuracy_gain": 0.02}}]   (optional)
//   }
//
// "format", "version", "beta", "tau" and "heads" are required in every version (a set is only meaningful with the
// hyper-parameters it was searched for); "model" and "measurements" are optional.
//
// Version 2 adds the policy the heads were searched with, as registry text (act/policies/registry.hpp):
//   "detector": "top-k:3:token0", "rescaler": "scale-only:0.5"
// and is written only for such sets, so a version-1 reader refuses them rather than misreading
// them as the paper's. A file without the two fields means the paper's policy with its beta and tau.
//
// Version 3 adds a factor per head, as a third element: "heads": [[3, 5, 0.25], [4, 0]]. A head's
// factor replaces the rescaler's BETA for that head only (initial-token scaling with a factor per
// head: "detector": "initial-token", "rescaler": "scale-only:0.5"); heads without one use the
// rescaler as written. Only written when a head has a factor, and only with a scale-only rescaler,
// so older readers refuse such files and files without factors keep their meaning.
#include <act/core/error.hpp>
#include <act/core/files.hpp>
#include <act/policies/registry.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace act {

struct HeadId {
  std::uint32_t layer = 0;
  std::uint32_t head = 0;
  friend auto operator<=>(const HeadId&, const HeadId&) = default;
};

struct HeadMeasurement {
  HeadId id;
  std::map<std::string, double> values;
};

class HeadSet {
 public:
  std::string model;
  float beta = 0.4f;
  float tau = 0.1f;
  std::vector<HeadMeasurement> measurements;
  // The policy the heads were searched with; unset: the paper's with beta and tau.
  std::optional<AnyCalibration> policy;

  HeadSet() = default;
  HeadSet(std::vector<HeadId> heads, float b, float t, std::string model_name = {})
      : model(std::move(model_name)), beta(b), tau(t) {
    for (const HeadId& id : heads) add(id);
  }

  void add(HeadId id) {
    const auto at = std::lower_bound(heads_.begin(), heads_.end(), id);
    if (at == heads_.end() || *at != id) heads_.insert(at, id);
  }
  // Adds the head with its own factor (see the file comment). Throws std::invalid_argument for a
  // factor a scale-only rescaler refuses (negative, non-finite).
  void add(HeadId id, float factor) {
    if (!(std::isfinite(factor) && factor >= 0.0f))
      throw std::invalid_argument("act: a head's factor must be finite and >= 0 (got " + std::to_string(factor) + ")");
    add(id);
    factors_[id] = factor;
  }
  // The head's own factor; nullopt: the set's rescaler applies.
  std::optional<float> factor(HeadId id) const {
    const auto found = factors_.find(id);
    return found == factors_.end() ? std::nullopt : std::optional<float>(found->second);
  }
  const std::map<HeadId, float>& factors() const noexcept { return factors_; }
  bool contains(std::uint32_t layer, std::uint32_t head) const {
    return std::binary_search(heads_.begin(), heads_.end(), HeadId{layer, head});
  }
  AnyCalibration calibration() const { return policy.value_or(AnyCalibration::paper(beta, tau)); }
  // Records `c`: the paper's pair as beta and tau (a version-1 file), any other as `policy`.
  void set_calibration(const AnyCalibration& c) {
    if (c.is_paper()) {
      beta = std::get<Redistribute>(c.rescaler).beta;
      tau = std::get<ColumnMeanThreshold>(c.detector).tau;
      policy.reset();
    } else {
      policy = c;
    }
  }

  const std::vector<HeadId>& heads() const noexcept { return heads_; }
  std::size_t size() const noexcept { return heads_.size(); }
  bool empty() const noexcept { return heads_.empty(); }

  // Per head of `layer`: 1 if calibrated (the kernels' calibrated_heads mask). Throws
  // act::FormatError if the set names a head of `layer` at or past head_count (a set searched on
  // another model), rather than leaving it out.
  std::vector<std::uint8_t> layer_mask(std::uint32_t layer, std::size_t head_count) const {
    std::vector<std::uint8_t> mask(head_count, 0);
    for (const HeadId& id : heads_) {
      if (id.layer != layer) continue;
      if (id.head >= head_count)
        outside_model(id, std::to_string(head_count) + " heads in layer " + std::to_string(layer));
      mask[id.head] = 1;
    }
    return mask;
  }

  // Throws act::FormatError if a head lies outside the model.
  void check_fits(std::size_t layers, std::size_t heads_per_layer) const {
    for (const HeadId& id : heads_)
      if (id.layer >= layers || id.head >= heads_per_layer)
        outside_model(id, std::to_string(layers) + " layers of " + std::to_string(heads_per_layer) + " heads");
  }

  // Largest head-set file load() reads: a real one (every head of a large model, with
  // measurements) is well under 1 MB.
  static constexpr std::size_t max_file_bytes = std::size_t{16} << 20;

  nlohmann::json to_json() const;
  static HeadSet from_json_text(std::string_view text, std::string_view source = "head set");
  static HeadSet load(const std::filesystem::path& path);
  void save(const std::filesystem::path& path) const;

 private:
  [[noreturn]] static void outside_model(HeadId id, const std::string& model_shape) {
    throw FormatError("act: head set names (layer " + std::to_string(id.layer) + ", head " + std::to_string(id.head) +
                      ") but the model has " + model_shape);
  }
  std::vector<HeadId> heads_;        // sorted, unique
  std::map<HeadId, float> factors_;  // heads with their own factor (a subset of heads_)
};

namespace detail {

[[noreturn]] inline void head_set_error(std::string_view source, const std::string& what) {
  throw FormatError("act: " + std::string(source) + ": " + what);
}

// A wrong value as a message shows it: scalars as written, arrays and objects by type only (dumping
// one recurses once per nesting level, which a hostile file makes deep enough to overflow the stack).
inline std::string shown(const nlohmann::json& value) {
  return value.is_structured() ? std::string(value.type_name()) : value.dump();
}

inline std::uint32_t head_index(const nlohmann::json& value, std::string_view source, const std::string& where) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0 || value.get<std::int64_t>() > 1'000'000)
    head_set_error(source, where + " must be a non-negative integer (got " + shown(value) + ")");
  return static_cast<std::uint32_t>(value.get<std::int64_t>());
}

inline float finite_number(const nlohmann::json& root, const char* key, std::string_view source) {
  if (!root.contains(key)) head_set_error(source, std::string("missing field \"") + key + "\"");
  const auto& value = root[key];
  // Finite as a float too: narrowing a larger double gives inf (formally undefined behaviour).
  if (!value.is_number() || !(std::fabs(value.get<double>()) <= std::numeric_limits<float>::max()))
    head_set_error(source, std::string("field \"") + key + "\" must be a finite number (got " + shown(value) + ")");
  return value.get<float>();
}

// beta and tau are a weight and a threshold on attention weights: both in [0, 1], as the CLI requires.
inline float unit_interval(const nlohmann::json& root, const char* key, std::string_view source) {
  const float value = finite_number(root, key, source);
  if (value < 0.0f || value > 1.0f)
    head_set_error(source, std::string("field \"") + key + "\" must be in [0, 1] (got " + shown(root[key]) + ")");
  return value;
}

// nlohmann keeps the last of two equal keys in an object: {"beta": 0.4, ..., "beta": 0.9} would run
// with 0.9 and no word. This parse callback refuses a repeated key instead (one set of keys per open
// object).
class RepeatedKeyCheck {
 public:
  explicit RepeatedKeyCheck(std::string_view source) : source_(source) {}
  bool operator()(int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_.emplace_back();
    if (event == Event::object_end && !open_.empty()) open_.pop_back();
    if (event == Event::key && !open_.empty() && !open_.back().insert(parsed.get<std::string>()).second)
      head_set_error(source_, "key " + parsed.dump() + " appears twice in one object");
    return true;
  }

 private:
  std::string_view source_;
  std::vector<std::set<std::string>> open_;
};

// nlohmann reports a byte offset; people want a line and column.
inline std::string line_and_column(std::string_view text, std::size_t byte) {
  byte = std::min(byte, text.size());
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n');
  const auto last_newline = text.substr(0, byte).rfind('\n');
  const auto column = last_newline == std::string_view::npos ? byte + 1 : byte - last_newline;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// The shortest decimal that reads back as the same float, so 0.4f is written as 0.4.
inline double shortest_decimal(float value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  *end = '\0';
  return std::strtod(text, nullptr);
}

// Version 2's "detector" and "rescaler" (both or neither); a file without them means the paper's.
inline std::optional<AnyCalibration> read_policy(const nlohmann::json& root, std::string_view source) {
  if (!root.contains("detector") && !root.contains("rescaler")) {
    if (root["version"] != 1)
      head_set_error(source, "version " + shown(root["version"]) + " needs the fields \"detector\" and \"rescaler\"");
    return std::nullopt;
  }
  // A version-1 reader ignores the fields and runs the paper's policy: such a file has no one meaning.
  if (root["version"] == 1)
    head_set_error(source, "version 1 has no \"detector\" or \"rescaler\" (a file with a policy is version 2 or 3)");
  const auto text = [&](const char* key) {
    if (!root.contains(key) || !root[key].is_string())
      head_set_error(source, std::string("field \"") + key + "\" must be a policy's text, e.g. \"top-k:3\"");
    return root[key].get<std::string>();
  };
  try {
    return AnyCalibration{parse_detector(text("detector")), parse_rescaler(text("rescaler"))};
  } catch (const std::invalid_argument& e) {
    head_set_error(source, e.what());
  }
}

// One "heads" entry: [layer, head], or (version 3, scale-only rescaler) [layer, head, factor].
inline void read_head(const nlohmann::json& entry, HeadSet& set, std::string_view source, const std::string& where,
                      bool factors_allowed) {
  if (!entry.is_array() || entry.size() < 2 || entry.size() > 3)
    head_set_error(source, where + " must be [layer, head] or [layer, head, factor]");
  const HeadId id{head_index(entry[0], source, where + "[0]"), head_index(entry[1], source, where + "[1]")};
  if (set.contains(id.layer, id.head))  // twice with two factors would leave one silently unused
    head_set_error(
        source, where + ": head [" + std::to_string(id.layer) + ", " + std::to_string(id.head) + "] is listed twice");
  if (entry.size() == 2) return set.add(id);
  if (!factors_allowed)
    head_set_error(source, where + ": a factor per head needs version 3 and a \"scale-only\" rescaler");
  const auto& value = entry[2];
  if (!value.is_number() || !(value.get<double>() >= 0.0 && value.get<double>() <= std::numeric_limits<float>::max()))
    head_set_error(source, where + "[2] (the factor) must be a finite number >= 0 (got " + shown(value) + ")");
  set.add(id, value.get<float>());
}

inline void read_heads(const nlohmann::json& root, HeadSet& set, std::string_view source) {
  if (!root.contains("heads") || !root["heads"].is_array())
    head_set_error(source, "field \"heads\" must be an array of [layer, head] pairs");
  const bool factors_allowed =
      root["version"] == 3 && set.policy && std::holds_alternative<ScaleOnly>(set.policy->rescaler);
  const auto& heads = root["heads"];
  for (std::size_t i = 0; i < heads.size(); ++i)
    read_head(heads[i], set, source, "heads[" + std::to_string(i) + "]", factors_allowed);
}

}  // namespace detail

// Throws std::invalid_argument for heads with factors in a set whose rescaler is not scale-only
// (no file could say what they mean).
inline nlohmann::json HeadSet::to_json() const {
  if (!factors_.empty() && !(policy && std::holds_alternative<ScaleOnly>(policy->rescaler)))
    throw std::invalid_argument("act: a head set with a factor per head needs a scale-only rescaler");
  nlohmann::json heads = nlohmann::json::array();
  for (const HeadId& id : heads_) {
    heads.push_back({id.layer, id.head});
    if (const auto f = factor(id)) heads.back().push_back(detail::shortest_decimal(*f));
  }
  nlohmann::json root = {{"format", "act-head-set"},
                         {"version", !factors_.empty() ? 3
                                     : policy          ? 2
                                                       : 1},
                         {"model", model},
                         {"beta", detail::shortest_decimal(beta)},
                         {"tau", detail::shortest_decimal(tau)},
                         {"heads", heads}};
  if (policy) {
    root["detector"] = policy_text(policy->detector);
    root["rescaler"] = policy_text(policy->rescaler);
  }
  if (!measurements.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : measurements)
      list.push_back({{"layer", m.id.layer}, {"head", m.id.head}, {"values", m.values}});
    root["measurements"] = list;
  }
  return root;
}

inline HeadSet HeadSet::from_json_text(std::string_view text, std::string_view source) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text, detail::RepeatedKeyCheck(source));
  } catch (const nlohmann::json::parse_error& e) {
    detail::head_set_error(source, "invalid JSON at " + detail::line_and_column(text, e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::out_of_range&) {  // a number beyond double's range; nlohmann gives no position
    detail::head_set_error(source, "invalid JSON: a number is out of range");
  }
  if (!root.is_object()) detail::head_set_error(source, "top level must be a JSON object");
  if (!root.contains("format") || root["format"] != "act-head-set")
    detail::head_set_error(source, "field \"format\" must be \"act-head-set\"");
  if (!root.contains("version") || (root["version"] != 1 && root["version"] != 2 && root["version"] != 3))
    detail::head_set_error(source, "field \"version\" must be 1, 2 or 3");
  HeadSet set;
  set.policy = detail::read_policy(root, source);
  if (root.contains("model")) {
    if (!root["model"].is_string()) detail::head_set_error(source, "field \"model\" must be a string");
    set.model = root["model"].get<std::string>();
  }
  set.beta = detail::unit_interval(root, "beta", source);
  set.tau = detail::unit_interval(root, "tau", source);
  detail::read_heads(root, set, source);
  if (root.contains("measurements")) {
    const auto& list = root["measurements"];
    if (!list.is_array()) detail::head_set_error(source, "field \"measurements\" must be an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string where = "measurements[" + std::to_string(i) + "]";
      const auto& entry = list[i];
      if (!entry.is_object() || !entry.contains("layer") || !entry.contains("head"))
        detail::head_set_error(source, where + " must be an object with \"layer\" and \"head\"");
      HeadMeasurement m{{detail::head_index(entry["layer"], source, where + ".layer"),
                         detail::head_index(entry["head"], source, where + ".head")},
                        {}};
      if (entry.contains("values")) {
        if (!entry["values"].is_object()) detail::head_set_error(source, where + ".values must be an object");
        for (const auto& [key, value] : entry["values"].items()) {
          if (!value.is_number()) detail::head_set_error(source, where + ".values." + key + " must be a number");
          m.values[key] = value.get<double>();
        }
      }
      set.measurements.push_back(std::move(m));
    }
  }
  return set;
}

// Throws act::Error for a path that is not a regular file or is above max_file_bytes.
inline HeadSet HeadSet::load(const std::filesystem::path& path) {
  return from_json_text(read_regular_file(path, max_file_bytes, "head set file"), path.string());
}

// Atomic: a failed save leaves any previous file at `path` as it was.
inline void HeadSet::save(const std::filesystem::path& path) const {
  write_file_atomically(path, to_json().dump(2) + '\n');
}

}  // namespace act
