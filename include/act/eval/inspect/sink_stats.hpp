#pragma once
// Sink statistics: per prompt, every head's candidate sinks (column mean > tau) with their tokens;
// over a dataset, how often heads have sinks beyond the first token and which tokens they are.
//
// Positions are told apart because they mean different things: column 0 is the classic initial
// sink; the last column's mean is the weight of one query (the last token attending to itself),
// so it passes tau far more easily and says little; the interior ones are the paper's "hidden"
// sinks (punctuation, delimiters, template words).
#include <act/model/llama_model.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace act::eval {

enum class SinkPosition { initial, interior, final };

inline SinkPosition sink_position(std::size_t column, std::size_t length) {
  if (column == 0) return SinkPosition::initial;
  return column + 1 == length ? SinkPosition::final : SinkPosition::interior;
}

// Token bytes made safe for a terminal or JSON: "\n" -> "\\n", other control and non-UTF-8 bytes -> \xNN.
inline std::string printable(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    const std::size_t length = b < 0x80             ? 1
                               : (b & 0xE0) == 0xC0 ? 2
                               : (b & 0xF0) == 0xE0 ? 3
                               : (b & 0xF8) == 0xF0 ? 4
                                                    : 0;
    bool valid = length > 0 && i + length <= bytes.size();
    for (std::size_t k = 1; valid && k < length; ++k) valid = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (valid && (b >= 0x20 && b != 0x7F)) {
      out.append(bytes.substr(i, length));
      i += length - 1;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += std::string("\\x") + hex[b >> 4] + hex[b & 0xF];
    }
  }
  return out;
}

struct SinkColumn {
  std::uint32_t column = 0;
  float mean = 0.0f;
  std::string token;  // printable()
};

struct HeadSinkReport {
  HeadId id;
  std::vector<SinkColumn> candidates;  // every column with mean > tau
  SinkSet calibrated;                  // what ACT would rescale (first candidate dropped)
};

inline std::vector<HeadSinkReport> describe_sinks(std::span<const model::HeadSinks> observed,
                                                  std::span<const std::int32_t> tokens,
                                                  const text::Tokenizer& tokenizer, float tau) {
  std::vector<HeadSinkReport> out;
  for (const model::HeadSinks& head : observed) {
    HeadSinkReport report{head.id, {}, head.sinks};
    for (std::size_t j = 0; j < head.column_means.size() && j < tokens.size(); ++j)
      if (head.column_means[j] > tau)
        report.candidates.push_back(
            {static_cast<std::uint32_t>(j), head.column_means[j], printable(tokenizer.token_text(tokens[j]))});
    out.push_back(std::move(report));
  }
  return out;
}

class SinkSummary {
 public:
  SinkSummary(std::size_t layers, std::size_t heads, float tau)
      : layers_(layers), heads_(heads), tau_(tau), interior_by_head_(layers * heads, 0) {}

  void add(const std::vector<HeadSinkReport>& prompt, std::size_t length) {
    ++prompts_;
    for (const HeadSinkReport& head : prompt) {
      bool interior = false, final = false;
      for (const SinkColumn& s : head.candidates) {
        const SinkPosition where = sink_position(s.column, length);
        if (where == SinkPosition::interior) {
          interior = true;
          ++interior_tokens_[s.token];
        }
        final = final || where == SinkPosition::final;
      }
      if (head.id.layer < layers_ && head.id.head < heads_)
        interior_by_head_[head.id.layer * heads_ + head.id.head] += interior;
      with_interior_ += interior ? 1 : 0;
      with_final_ += final ? 1 : 0;
    }
  }

  std::size_t prompts() const noexcept { return prompts_; }
  // Over all (prompt, head) pairs.
  double share_with_interior() const { return share(with_interior_, prompts_ * layers_ * heads_); }
  double share_with_final() const { return share(with_final_, prompts_ * layers_ * heads_); }
  // Over prompts, for one head.
  double head_share(std::size_t layer, std::size_t head) const {
    return share(interior_by_head_[layer * heads_ + head], prompts_);
  }

  // The most frequent interior sink tokens, most frequent first (ties: by text).
  std::vector<std::pair<std::string, std::size_t>> top_tokens(std::size_t k) const {
    std::vector<std::pair<std::string, std::size_t>> all(interior_tokens_.begin(), interior_tokens_.end());
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (all.size() > k) all.resize(k);
    return all;
  }

  nlohmann::json to_json(std::size_t top = 20) const {
    nlohmann::json per_layer = nlohmann::json::array();
    for (std::size_t l = 0; l < layers_; ++l) {
      nlohmann::json row = nlohmann::json::array();
      for (std::size_t h = 0; h < heads_; ++h) row.push_back(head_share(l, h));
      per_layer.push_back(row);
    }
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& [token, count] : top_tokens(top)) tokens.push_back({{"token", token}, {"count", count}});
    return {{"tau", tau_},
            {"prompts", prompts_},
            {"share_of_heads_with_interior_sinks", share_with_interior()},
            {"share_of_heads_with_final_position_sinks", share_with_final()},
            {"interior_sink_share_by_layer_and_head", per_layer},
            {"top_interior_sink_tokens", tokens}};
  }

 private:
  static double share(std::size_t part, std::size_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
  }

  std::size_t layers_, heads_;
  float tau_;
  std::size_t prompts_ = 0, with_interior_ = 0, with_final_ = 0;
  std::vector<std::size_t> interior_by_head_;
  std::map<std::string, std::size_t> interior_tokens_;
};

}  // namespace act::eval
