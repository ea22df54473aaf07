// Decode with SinkState: prefill, then one query per step. Row T decoded with the running
// statistics must equal row T of the reference prefill over T + 1 tokens.
#include "kernel_testing.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

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

// ColumnMeanThreshold's test for one column at a time only: decode cannot test it a vector at a
// time, so it takes the scalar loop.
struct ScalarColumnMean {
  ColumnMeanThreshold inner;
  bool is_candidate(float received, float seen) const noexcept { return inner.is_candidate(received, seen); }
  void finish(SinkSet& candidates) const { inner.finish(candidates); }
  void select(ColumnStatsView stats, SinkSet& out) const { select_columnwise(*this, stats, out); }
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

// Two decode paths gave bitwise the same step: sinks, report, output (NaN rows too), statistics.
void check_same_step(const Result& a, const SinkState& a_state, const Result& b, const SinkState& b_state) {
  CHECK(a.sinks == b.sinks);
  CHECK(a.report == b.report);
  CHECK(std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float)) == 0);
  for (std::size_t h = 0; h < a_state.heads(); ++h) {
    CHECK(a_state.head(h).received == b_state.head(h).received);
    CHECK(a_state.head(h).seen_by == b_state.head(h).seen_by);
  }
}

// The paper's detector three ways: tested a vector at a time, a column at a time, and by select()
// after the statistics pass.
struct DetectorForms {
  Calibration<ColumnMeanThreshold, Redistribute> batch;
  Calibration<ScalarColumnMean, Redistribute> scalar;
  Calibration<OpaqueColumnMean, Redistribute> two_pass;
  explicit DetectorForms(KeepSink keep)
      : batch{ColumnMeanThreshold(0.1f, keep), Redistribute(0.4f)},
        scalar{ScalarColumnMean{ColumnMeanThreshold(0.1f, keep)}, Redistribute(0.4f)},
        two_pass{OpaqueColumnMean{ColumnMeanThreshold(0.1f, keep)}, Redistribute(0.4f)} {}
};

}  // namespace

TEST_CASE("decode: a columnwise detector tested in the statistics pass chooses what select() chooses",
          "[kernels][decode]") {
  static_assert(ColumnwiseDetector<ColumnMeanThreshold> && !ColumnwiseDetector<OpaqueColumnMean>);
  static_assert(act::detail::BatchColumnTest<ColumnMeanThreshold> && ColumnwiseDetector<ScalarColumnMean> &&
                !act::detail::BatchColumnTest<ScalarColumnMean>);
  const KeepSink keep = GENERATE(KeepSink::first_candidate, KeepSink::none);
  CAPTURE(static_cast<int>(keep));
  const std::size_t kv_len = 2100;
  Problem p = random_problem({9, 3, 1, kv_len, 64}, {}, 5);
  plant_sinks(p, {0, 7, 700, 2000}, 30.0f);
  const DetectorForms forms(keep);
  SinkState batch_state(9), scalar_state(9), two_pass_state(9);
  // Steps: the whole cache; a row that sees 1,500 keys, so key 2000 is a sink only through the
  // statistics of the step before; the whole cache again with an invalid row in head 4. Neither
  // length is a whole number of vectors, so the scalar tail runs too.
  for (int step = 0; step < 3; ++step) {
    CAPTURE(step);
    p.options.valid_keys = step == 1 ? 1500 : kv_len;
    p.options.query_position = p.options.valid_keys - 1;
    if (step == 2) p.q_at(4, 0, 3) = std::numeric_limits<float>::quiet_NaN();
    const Result a = decode_step(p, forms.batch, batch_state);
    check_same_step(a, batch_state, decode_step(p, forms.scalar, scalar_state), scalar_state);
    check_same_step(a, batch_state, decode_step(p, forms.two_pass, two_pass_state), two_pass_state);
    // A first row that sees 2,100 keys is no causal history: every form counts per column.
    for (std::size_t h = 0; h < 9; ++h) CHECK(batch_state.head(h).seen_by.form() == SeenCounts::Form::per_column);
    CHECK(a.report.rows_calibrated > 0);
    const auto has_hidden_sink = [](const SinkSet& head) { return !head.empty() && head.back() == 2000u; };
    if (step == 1) CHECK(std::any_of(a.sinks.begin(), a.sinks.end(), has_hidden_sink));
    if (step == 2) CHECK(a.report.invalid_rows == 1);
  }
}

TEST_CASE("decode: the detector's forms agree over a causal history from the first token", "[kernels][decode]") {
  // Decode from position 0 keeps the counts arithmetic (CausalCounts): the vector form computes
  // them per lane. 300 keys make two chunks of 160 and 140 keys, so vectors and tails both run.
  const std::size_t kv_len = 300;
  Problem p = random_problem({9, 3, 1, kv_len, 32}, {}, 11);
  plant_sinks(p, {0, 7, 100, 250}, 30.0f);
  const DetectorForms forms(KeepSink::first_candidate);
  SinkState batch_state(9), scalar_state(9), two_pass_state(9);
  std::size_t calibrated = 0;
  for (std::size_t t = 0; t < kv_len; ++t) {
    CAPTURE(t);
    p.options.valid_keys = t + 1;
    p.options.query_position = t;
    const Result a = decode_step(p, forms.batch, batch_state);
    check_same_step(a, batch_state, decode_step(p, forms.scalar, scalar_state), scalar_state);
    check_same_step(a, batch_state, decode_step(p, forms.two_pass, two_pass_state), two_pass_state);
    CHECK(batch_state.head(0).seen_by.form() == SeenCounts::Form::causal);
    calibrated += a.report.rows_calibrated;
  }
  CHECK(calibrated > kv_len);  // the planted sinks are found in most steps of most heads
}

TEST_CASE("decode: a vector of column counts equals the counts taken one column at a time", "[kernels][decode]") {
  // Per lane as count(j) converted by static_cast, around the diagonal of a causal history and
  // above 2^24, where a float no longer holds every count and both must round alike.
  constexpr std::size_t width = simd::width;
  const std::uint32_t big = (1u << 24) + 3;
  for (const std::uint32_t rows : {0u, 1u, 5u, 37u, big}) {
    for (const std::size_t j :
         {std::size_t{0}, std::size_t{3}, std::size_t{rows}, std::max<std::size_t>(rows, width / 2) - width / 2}) {
      CAPTURE(rows, j);
      const CausalCounts causal{rows};
      float lanes[width];
      act::detail::seen_floats(causal, j).store_unaligned(lanes);
      for (std::size_t i = 0; i < width; ++i) CHECK(lanes[i] == static_cast<float>(causal(j + i)));
    }
  }
  std::vector<std::uint32_t> counts(3 * width), expected(3 * width);
  for (std::size_t j = 0; j < counts.size(); ++j) counts[j] = expected[j] = big - 2 + static_cast<std::uint32_t>(j);
  float lanes[width];
  act::detail::seen_floats(CountingColumns{counts.data()}, width + 1).store_unaligned(lanes);
  for (std::size_t i = 0; i < width; ++i) CHECK(lanes[i] == static_cast<float>(++expected[width + 1 + i]));
  CHECK(counts == expected);  // counted once each, the rest untouched
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

// An empty state would pass an empty running_stats span, which means prefill semantics: a decode
// step would silently ignore the history. So there is no default constructor and 0 heads throw.
TEST_CASE("SinkState needs the layer's query head count", "[kernels][decode][errors]") {
  STATIC_REQUIRE_FALSE(std::is_default_constructible_v<SinkState>);
  CHECK_THROWS_AS(SinkState(0), std::invalid_argument);
}
