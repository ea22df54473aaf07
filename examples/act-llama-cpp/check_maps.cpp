// act-llama-cpp check-maps: checks every map ACT calibrates inside llama.cpp against the library's
// double-precision oracle (act::reference::calibrate), for any architecture llama.cpp runs. Each
// calibrated layer's kq_soft_max map is copied just before the callback calibrates it; the oracle
// calibrates the copy of every chosen head, with running statistics kept as the hook keeps them
// (a prompt in several ubatches, then decode steps), and the result must match the map llama.cpp
// goes on with. Heads that are not chosen must come out bit for bit as they went in.
//
// Tolerance: the oracle reads the same float weights and sums them in double in the same order,
// so its column statistics, sink sets and float gains are those of act::calibrate_map; only the
// final product differs (double in the oracle, rounded to float once in the map), so every weight
// must agree to a relative error of one unit roundoff, 2^-24 (as tests/kernels/map_calibration_test),
// or, for a product in float's subnormal range (random weights reach 1e-44), to half the spacing
// of subnormals, 2^-150: there a rounding is absolute, not relative.
#include "cli.hpp"

#include <act/kernels/reference.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

namespace act_llama_cpp {
namespace {

constexpr double unit_roundoff = 0x1p-24;
constexpr double subnormal_rounding = 0x1p-150;

struct CheckOptions {
  EngineFlags engine;
  PromptFlags prompt;
  std::size_t decode_steps = 8;
};

struct Tally {
  std::size_t maps = 0, heads_checked = 0, heads_untouched = 0, weights = 0, mismatches = 0;
  std::size_t rows_calibrated = 0, sinks = 0;
  double max_relative_error = 0.0;
};

// The oracle's input: one head's float weights as doubles, with the mask's hidden cells.
act::reference::HeadMap oracle_map(const act::HeadsView<float>& map, const act::AdditiveMask& mask, std::size_t head) {
  act::reference::HeadMap m;
  m.rows = map.rows;
  m.cols = map.cols;
  m.weights.resize(m.rows * m.cols);
  m.hidden.resize(m.rows * m.cols);
  m.visible.assign(m.rows, 0);
  m.invalid.assign(m.rows, false);
  for (std::size_t i = 0; i < m.rows; ++i) {
    const float* row = map.row(head, i);
    for (std::size_t j = 0; j < m.cols; ++j) {
      const bool sees = mask.visible(head, i, j, row[j]);
      m.weights[i * m.cols + j] = row[j];
      m.hidden[i * m.cols + j] = !sees;
      if (sees) m.visible[i] = m.cols;  // a row that sees no cell takes no part, as in calibrate_map
      if (sees && std::isnan(row[j])) m.invalid[i] = true;
    }
  }
  return m;
}

// Watches the hook: keeps each map's input, then checks the hook's output against the oracle.
class OracleCheck final : public MapInspector {
 public:
  OracleCheck(act::model::ActSettings settings, std::size_t layers, std::size_t heads)
      : settings_(std::move(settings)),
        masks_(settings_.layer_masks(layers, heads)),
        running_(layers, std::vector<act::ColumnStats>(heads)) {}

  void before(const act::HeadsView<float>& map, const act::AdditiveMask& mask, std::size_t) override {
    inputs_.clear();
    for (std::size_t head = 0; head < map.heads; ++head) inputs_.push_back(oracle_map(map, mask, head));
  }

  void after(const act::HeadsView<float>& map, std::size_t layer) override {
    ++tally_.maps;
    for (std::size_t head = 0; head < map.heads; ++head) {
      if (masks_[layer][head] != 0)
        check_calibrated(map, head, inputs_[head], running_[layer][head]);
      else
        check_untouched(map, head, inputs_[head]);
    }
  }

  const Tally& tally() const noexcept { return tally_; }

 private:
  void check_calibrated(const act::HeadsView<float>& map, std::size_t head, act::reference::HeadMap& expected,
                        act::ColumnStats& running) {
    act::SinkSet sinks;
    const act::CalibrationReport report = settings_.calibration().visit(
        [&](const auto& calibration) { return act::reference::calibrate(expected, calibration, sinks, {}, &running); });
    ++tally_.heads_checked;
    tally_.rows_calibrated += report.rows_calibrated;
    tally_.sinks += sinks.size();
    for (std::size_t i = 0; i < map.rows; ++i)
      for (std::size_t j = 0; j < map.cols; ++j) compare(map.row(head, i)[j], expected.at(i, j));
  }

  void compare(float actual, double expected) {
    ++tally_.weights;
    const double error = std::abs(double(actual) - expected);
    if (error > std::max(unit_roundoff * std::abs(expected), subnormal_rounding)) ++tally_.mismatches;
    if (std::abs(expected) >= std::numeric_limits<float>::min())  // normal range: the relative bound applies
      tally_.max_relative_error = std::max(tally_.max_relative_error, error / std::abs(expected));
  }

  void check_untouched(const act::HeadsView<float>& map, std::size_t head, const act::reference::HeadMap& input) {
    ++tally_.heads_untouched;
    for (std::size_t i = 0; i < map.rows; ++i)
      for (std::size_t j = 0; j < map.cols; ++j) {
        const float before = static_cast<float>(input.at(i, j)), now = map.row(head, i)[j];
        const bool same = std::memcmp(&before, &now, sizeof(float)) == 0;  // NaN-safe, bit for bit
        tally_.mismatches += same ? 0 : 1;
      }
  }

  act::model::ActSettings settings_;
  std::vector<std::vector<std::uint8_t>> masks_;
  std::vector<std::vector<act::ColumnStats>> running_;  // per layer and head, as the hook's SinkState
  std::vector<act::reference::HeadMap> inputs_;         // the map being calibrated, per head
  Tally tally_;
};

// The prompt in one call (or --ubatch chunks), then greedy decode steps one token at a time.
void run_sequence(Engine& engine, const std::vector<std::int32_t>& prompt, std::size_t steps) {
  engine.start_sequence();
  std::vector<float> logits = engine.decode(prompt, prompt.size() - 1, 1);
  for (std::size_t s = 0; s < steps; ++s) {
    const std::int32_t next = greedy(logits);
    logits = engine.decode(std::span(&next, 1), 0, 1);
  }
}

void print_tally(const Tally& t) {
  std::printf("maps %zu, calibrated heads checked %zu (rows calibrated %zu, sinks %zu), untouched heads %zu\n", t.maps,
              t.heads_checked, t.rows_calibrated, t.sinks, t.heads_untouched);
  std::printf("weights compared %zu, mismatches %zu, max relative error %.3g of normal floats (bound %.3g)\n",
              t.weights, t.mismatches, t.max_relative_error, unit_roundoff);
}

void run_check(const CheckOptions& o) {
  if (o.engine.common.act_heads.empty()) throw act::Error("check-maps checks calibrated maps: pass --act-heads");
  const std::vector<std::int32_t> prompt = prompt_tokens(o.engine, o.prompt);
  Engine engine = make_engine(o.engine);
  OracleCheck check(act_llama::act_settings(o.engine.common, model_name_of(o.engine)), engine.layers(), engine.heads());
  engine.inspect_maps(check);
  run_sequence(engine, prompt, o.decode_steps);
  print_tally(check.tally());
  const Tally& t = check.tally();
  if (t.mismatches != 0) throw act::Error(std::to_string(t.mismatches) + " weights differ from the oracle");
  if (t.rows_calibrated == 0) throw act::Error("no row was calibrated (no sinks found): the check proves nothing");
}

}  // namespace

void register_check_maps(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* command =
      app.add_subcommand("check-maps", "Check every map ACT calibrates in llama.cpp against the library's oracle");
  add_engine_flags(*command, o->engine);
  add_prompt_flags(*command, o->prompt);
  command->add_option("--decode", o->decode_steps, "Greedy decode steps after the prompt")->capture_default_str();
  command->callback([o] { run_check(*o); });
}

}  // namespace act_llama_cpp
