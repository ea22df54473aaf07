#pragma once
// Which sinks ACT moves, quantified for a head set: over prompts, the sinks its heads calibrate
// (token text and position), the share of rows calibrated, and the mean weight those rows give
// their sinks before ACT (the plain forward pass) and after it (the calibrated one).
//
// Both masses are measured on the sinks ACT chose in the calibrated pass, so they compare the same
// columns; "before" comes from the plain model, which is what ACT changes.
#include <act/eval/inspect/attention_map.hpp>
#include <act/eval/inspect/sink_stats.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <span>
#include <string>
#include <vector>

namespace act::eval {

// Summed over the rows `calibrated` reweighted: the weight on its calibrated sinks in `plain`
// (before) and in `calibrated` (after), and how many rows that is.
struct SinkMass {
  double before = 0.0, after = 0.0;
  std::size_t rows = 0;
};

inline SinkMass sink_mass(const AttentionMap& plain, const AttentionMap& calibrated) {
  SinkMass mass;
  for (std::size_t i = 0; i < calibrated.calibrated_rows.size(); ++i) {
    if (calibrated.calibrated_rows[i] == 0) continue;
    ++mass.rows;
    for (std::uint32_t s : calibrated.sinks) {
      if (s > i) break;
      mass.before += plain.at(i, s);
      mass.after += calibrated.at(i, s);
    }
  }
  return mass;
}

struct SinkTokenCount {
  std::string token;      // printable()
  std::size_t count = 0;  // calibrated sink columns with this token, over every (prompt, head) pair
  std::size_t initial = 0, interior = 0, final = 0;  // of which at each position
};

class CalibratedSinkSummary {
 public:
  explicit CalibratedSinkSummary(HeadSet heads) : heads_(std::move(heads)) {}

  // One prompt's maps without and with ACT (attention_maps() with default and with the settings);
  // tokens[i]: the printable() text of token i.
  void add(const std::vector<std::vector<AttentionMap>>& before, const std::vector<std::vector<AttentionMap>>& after,
           std::span<const std::string> tokens) {
    ++prompts_;
    for (const HeadId& id : heads_.heads()) {
      const AttentionMap& plain = before.at(id.layer).at(id.head);
      const AttentionMap& calibrated = after.at(id.layer).at(id.head);
      rows_ += calibrated.n;
      rows_calibrated_ += calibrated.rows_calibrated();
      pairs_with_sinks_ += calibrated.sinks.empty() ? 0 : 1;
      for (std::uint32_t column : calibrated.sinks) count_sink(column, tokens);
      const SinkMass mass = sink_mass(plain, calibrated);
      mass_before_ += mass.before;
      mass_after_ += mass.after;
    }
  }

  const HeadSet& heads() const noexcept { return heads_; }
  std::size_t prompts() const noexcept { return prompts_; }
  std::size_t pairs() const noexcept { return prompts_ * heads_.size(); }
  double share_of_pairs_with_sinks() const { return ratio(pairs_with_sinks_, pairs()); }
  double share_of_rows_calibrated() const { return ratio(rows_calibrated_, rows_); }
  // Mean over calibrated rows of the weight on the calibrated sinks.
  double mean_sink_mass_before() const {
    return rows_calibrated_ == 0 ? 0.0 : mass_before_ / static_cast<double>(rows_calibrated_);
  }
  double mean_sink_mass_after() const {
    return rows_calibrated_ == 0 ? 0.0 : mass_after_ / static_cast<double>(rows_calibrated_);
  }

  // Most frequent first (ties: by text); `non_initial`: only sinks seen away from position 0.
  std::vector<SinkTokenCount> top_tokens(std::size_t k, bool non_initial = false) const {
    std::vector<SinkTokenCount> all;
    for (const auto& [token, c] : tokens_) {
      SinkTokenCount entry = c;
      entry.token = token;
      if (non_initial) entry.count = c.interior + c.final;
      if (entry.count > 0) all.push_back(entry);
    }
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    if (all.size() > k) all.resize(k);
    return all;
  }

  nlohmann::json to_json(std::size_t top = 20) const {
    nlohmann::json list = nlohmann::json::array();
    for (const SinkTokenCount& t : top_tokens(top))
      list.push_back({{"token", t.token},
                      {"count", t.count},
                      {"per_prompt_head_pair", ratio(t.count, pairs())},
                      {"at_initial", t.initial},
                      {"at_interior", t.interior},
                      {"at_final", t.final}});
    return {{"policy", heads_.calibration().text()},
            {"heads", heads_.size()},
            {"prompts", prompts_},
            {"share_of_prompt_head_pairs_with_calibrated_sinks", share_of_pairs_with_sinks()},
            {"share_of_rows_calibrated", share_of_rows_calibrated()},
            {"mean_sink_mass_before", mean_sink_mass_before()},
            {"mean_sink_mass_after", mean_sink_mass_after()},
            {"calibrated_sink_tokens", list}};
  }

 private:
  static double ratio(std::size_t part, std::size_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
  }

  void count_sink(std::uint32_t column, std::span<const std::string> tokens) {
    SinkTokenCount& c = tokens_[tokens[column]];
    ++c.count;
    switch (sink_position(column, tokens.size())) {
      case SinkPosition::initial: ++c.initial; break;
      case SinkPosition::interior: ++c.interior; break;
      case SinkPosition::final: ++c.final; break;
    }
  }

  HeadSet heads_;
  std::size_t prompts_ = 0, rows_ = 0, rows_calibrated_ = 0, pairs_with_sinks_ = 0;
  double mass_before_ = 0.0, mass_after_ = 0.0;
  std::map<std::string, SinkTokenCount> tokens_;
};

}  // namespace act::eval
