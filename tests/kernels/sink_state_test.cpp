// Decode with SinkState: prefill, then one query per step. Row T decoded with the running
// statistics must equal row T of the reference prefill over T + 1 tokens.
#include "kernel_testing.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

using namespace act;
using namespace act::testing;

namespace {

// The first `tokens` positions of a causal problem (q_len = kv_len = tokens).
Problem prefix(const Problem& full, std::size_t tokens) {
  Problem p({full.shape.q_heads, full.shape.kv_heads, tokens, tokens, full.shape.dim}, full.options);
  const auto copy_rows = [&](const std::vector<float>& from, std::vector<float>& to, std::size_t heads) {
    for (std::size_t h = 0; h < heads; ++h)
      std::copy_n(&from[h * full.shape.q_len * full.shape.dim], tokens * full.shape.dim,
                  &to[h * tokens * full.shape.dim]);
  };
  copy_rows(full.q, p.q, full.shape.q_heads);
  copy_rows(full.k, p.k, full.shape.kv_heads);
  copy_rows(full.v, p.v, full.shape.kv_heads);
  return p;
}

// Row `row` of every head of a head-major [heads, rows, dim] buffer.
template <class T>
std::vector<T> rows_at(const std::vector<T>& data, std::size_t heads, std::size_t rows, std::size_t dim,
                       std::size_t row) {
  std::vector<T> picked;
  for (std::size_t h = 0; h < heads; ++h)
    picked.insert(picked.end(), data.begin() + (h * rows + row) * dim, data.begin() + (h * rows + row + 1) * dim);
  return picked;
}

// ColumnMeanThreshold behind a plain select(): decode cannot tell that it tests columns one by one,
// so it updates the statistics first and calls select() on them afterwards.
struct OpaqueColumnMean {
  ColumnMeanThreshold inner;
  void select(ColumnStatsView stats, SinkSet& out) const { inner.select(stats, out); }
};

// One decode step of `p` with running statistics in `state`.
template <class Cal>
Result decode_step(const Problem& p, const Cal& calibration, SinkState& state) {
  Result r{std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads), {}, {}, {}};
  AttentionExtras extras;
  extras.lse = r.lse;
  extras.sinks = &r.sinks;
  extras.running_stats = state.span();
  r.report = attention(p.queries(), p.keys(), p.values(), head_major(r.out.data(), p.shape.q_heads, 1, p.shape.dim),
                       p.options, calibration, extras);
  return r;
}

}  // namespace

TEST_CASE("decode: a columnwise detector tested in the statistics pass chooses what select() chooses",
          "[kernels][decode]") {
  static_assert(ColumnwiseDetector<ColumnMeanThreshold> && !ColumnwiseDetector<OpaqueColumnMean>);
  const KeepSink keep = GENERATE(KeepSink::first_candidate, KeepSink::none);
  CAPTURE(static_cast<int>(keep));
  const std::size_t kv_len = 2100;
  Problem p = random_problem({9, 3, 1, kv_len, 64}, {}, 5);
  plant_sinks(p, {0, 7, 700, 2000}, 30.0f);
  const auto one_pass = Calibration{ColumnMeanThreshold(0.1f, keep), Redistribute(0.4f)};
  const auto two_pass = Calibration{OpaqueColumnMean{ColumnMeanThreshold(0.1f, keep)}, Redistribute(0.4f)};
  SinkState one_pass_state(9), two_pass_state(9);
  // Steps: the whole cache; a row that sees 1,500 keys, so key 2000 is a sink only through the
  // statistics of the step before; the whole cache again with an invalid row in head 4.
  for (int step = 0; step < 3; ++step) {
    CAPTURE(step);
    p.options.valid_keys = step == 1 ? 1500 : kv_len;
    p.options.query_position = p.options.valid_keys - 1;
    if (step == 2) p.q_at(4, 0, 3) = std::numeric_limits<float>::quiet_NaN();
    const Result a = decode_step(p, one_pass, one_pass_state);
    const Result b = decode_step(p, two_pass, two_pass_state);
    CHECK(a.sinks == b.sinks);
    CHECK(a.report == b.report);
    CHECK(std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float)) == 0);  // NaN rows too
    for (std::size_t h = 0; h < 9; ++h) {
      CHECK(one_pass_state.head(h).received == two_pass_state.head(h).received);
      CHECK(one_pass_state.head(h).seen_by == two_pass_state.head(h).seen_by);
      // A first row that sees 2,100 keys is no causal history: both count per column.
      CHECK(one_pass_state.head(h).seen_by.form() == SeenCounts::Form::per_column);
    }
    CHECK(a.report.rows_calibrated > 0);
    const auto has_hidden_sink = [](const SinkSet& head) { return !head.empty() && head.back() == 2000u; };
    if (step == 1) CHECK(std::any_of(a.sinks.begin(), a.sinks.end(), has_hidden_sink));
    if (step == 2) CHECK(a.report.invalid_rows == 1);
  }
}

TEST_CASE("prefill then decode equals the reference prefill row by row", "[kernels][decode]") {
  const std::size_t group = GENERATE(1, 4);
  const std::size_t heads = 4, kv_heads = heads / group, total = 40, prompt = 23, dim = 16;
  CAPTURE(group);
  Problem full = random_problem({heads, kv_heads, total, total, dim}, {}, static_cast<std::uint32_t>(group));
  plant_sinks(full, {0, 3, 12, 30}, 12.0f);
  const auto calibration = paper_calibration(0.4f, 0.1f);

  SinkState state(heads);
  AttentionExtras extras;
  extras.running_stats = state.span();
  const Problem prompt_part = prefix(full, prompt);
  std::vector<float> prompt_out(prompt_part.q.size());
  attention(prompt_part.queries(), prompt_part.keys(), prompt_part.values(),
            head_major(prompt_out.data(), heads, prompt, dim), {}, calibration, extras);
  for (std::size_t h = 0; h < heads; ++h) CHECK(state.head(h).size() == prompt);

  for (std::size_t t = prompt; t < total; ++t) {
    CAPTURE(t);
    const Problem seen = prefix(full, t + 1);
    // The step: query t against keys 0..t (a view of the last query row of `seen`).
    const HeadsView<const float> query{
        seen.q.data() + t * dim,         heads, 1, dim, static_cast<std::ptrdiff_t>((t + 1) * dim),
        static_cast<std::ptrdiff_t>(dim)};
    std::vector<float> step_out(heads * dim);
    std::vector<SinkSet> step_sinks;
    extras.sinks = &step_sinks;
    attention(query, seen.keys(), seen.values(), head_major(step_out.data(), heads, 1, dim), {}, calibration, extras);

    const Result ref = run_reference(seen, calibration);
    const Result ref_stats = run_reference(seen, calibration, {{}, true, {}});
    for (std::size_t h = 0; h < heads; ++h) {
      CHECK(step_sinks[h] == ref.sinks[h]);
      // Running totals = statistics of rows 0..t: seen_by exact; received sums weights that are
      // each within eps_i (relative) of the reference's, in float over t + 1 terms.
      CHECK(state.head(h).seen_by == ref_stats.running[h].seen_by);
      // Prefill from position 0, then decode: the counts stay arithmetic, without an array.
      CHECK(state.head(h).seen_by.form() == SeenCounts::Form::causal);
      const double relative = max_weight_error(seen, h) + error_gamma(static_cast<double>(t) + 2.0);
      for (std::size_t j = 0; j <= t; ++j) {
        const double expected = ref_stats.running[h].received[j];
        CHECK(std::abs(state.head(h).received[j] - expected) <= relative * expected + unit_roundoff * expected);
      }
    }
    const OutputBounds bounds = output_bounds(seen, calibration.rescaler, ref.sinks);
    REQUIRE(bounds.ambiguous_rows == 0);
    CHECK(compare_outputs(step_out, rows_at(ref.out, heads, t + 1, dim, t), rows_at(bounds.row, heads, t + 1, 1, t),
                          dim) == 0);
  }
}

TEST_CASE("SinkState holds one running statistic per head and resets", "[kernels][decode]") {
  SinkState state(3);
  CHECK(state.heads() == 3);
  CHECK(state.span().size() == 3);
  state.span()[1].extend_to(5);
  state.span()[1].received[2] = 0.5f;
  state.reset();
  CHECK(state.heads() == 3);
  for (const ColumnStats& head : state.span()) CHECK(head.size() == 0);
  CHECK_THROWS_AS(state.head(3), std::out_of_range);
}
