// The "Defined outcomes for edge cases" of docs/design.md, checked directly on every kernel: the
// reference oracle, the fused kernel, and correct() applied to the output of plain attention.
#include "kernel_testing.hpp"
#include "same_bits.hpp"

#include <bit>
#include <numeric>

using namespace act;
using namespace act::testing;

namespace {

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();

enum class Kernel { reference, fused, corrected };

const char* name_of(Kernel kernel) {
  switch (kernel) {
    case Kernel::reference: return "reference";
    case Kernel::fused: return "fused";
    case Kernel::corrected: return "correct() after plain attention";
  }
  return "?";
}

// Runs `kernel`, collecting the column statistics each head's sinks were chosen from.
template <class Cal>
Result run(Kernel kernel, const Problem& p, const Cal& calibration) {
  RunOptions collect;
  collect.collect_running = true;
  if (kernel == Kernel::reference) return run_reference(p, calibration, collect);
  if (kernel == Kernel::fused) return run_fused(p, calibration, collect);
  Result r = run_fused(p, NoCalibration{});
  AttentionExtras extras = extras_for(r, collect, p.shape.q_heads);
  extras.lse = {};
  r.report =
      correct(p.queries(), p.keys(), p.values(), head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim),
              r.lse, p.options, calibration, extras);
  return r;
}

// 2 query heads over one KV head, 12 causal queries and keys of dimension 4. Keys 0 and 3 are
// strong sinks; every key's first component is positive, like every query's (plant_sinks), so an
// infinite first query component makes every score of its row infinite with the same sign.
Problem sink_problem(std::uint32_t seed = 1) {
  Problem p = random_problem({2, 1, 12, 12, 4}, {}, seed);
  plant_sinks(p, {0, 3}, 6.0f);
  for (std::size_t j = 0; j < 12; ++j) p.k_at(0, j, 0) = std::abs(p.k_at(0, j, 0)) + 0.25f;
  return p;
}

// sink_problem(seed) where only keys [0, valid_keys) are valid (causal queries at positions 0..11).
Problem padded_problem(std::uint32_t seed, Masking masking, std::size_t valid_keys) {
  Problem p = sink_problem(seed);
  p.options.masking = masking;
  p.options.valid_keys = valid_keys;
  if (masking == Masking::causal) p.options.query_position = 0;
  return p;
}

std::span<const float> row_of(const std::vector<float>& data, const Problem& p, std::size_t head, std::size_t row) {
  return std::span<const float>(data).subspan((head * p.shape.q_len + row) * p.shape.dim, p.shape.dim);
}

bool all_of(std::span<const float> values, bool (*test)(float)) {
  return std::all_of(values.begin(), values.end(), test);
}
bool is_nan(float x) { return std::isnan(x); }
bool is_finite(float x) { return std::isfinite(x); }
bool is_zero(float x) { return x == 0.0f; }

// Row status as the table defines it, for the problems below.
enum class Row { valid, invalid, empty };

// Checks every row's output and lse against its status, the report's counts, and that only valid
// rows entered the statistics: column j was seen by the valid rows with more than j visible keys,
// and the weights it received sum, over all columns, to one per valid row.
void check_rows(const Problem& p, const Result& r, const std::vector<std::vector<Row>>& status) {
  const AttentionGeometry g = p.geometry();
  std::size_t invalid = 0, empty = 0;
  for (std::size_t h = 0; h < g.q_heads; ++h) {
    std::vector<std::uint32_t> seen_by(g.kv_len, 0);
    double valid_rows = 0.0;
    for (std::size_t i = 0; i < g.q_len; ++i) {
      CAPTURE(h, i);
      const float lse = r.lse[h * g.q_len + i];
      switch (status[h][i]) {
        case Row::invalid:
          ++invalid;
          CHECK(all_of(row_of(r.out, p, h, i), is_nan));
          CHECK(std::isnan(lse));
          break;
        case Row::empty:
          ++empty;
          CHECK(all_of(row_of(r.out, p, h, i), is_zero));
          CHECK(lse == -inf);
          break;
        case Row::valid:
          CHECK(all_of(row_of(r.out, p, h, i), is_finite));
          CHECK(std::isfinite(lse));
          for (std::size_t j = 0; j < g.visible_keys(i); ++j) ++seen_by[j];
          valid_rows += 1.0;
          break;
      }
    }
    const ColumnStats& stats = r.running[h];
    REQUIRE(stats.size() == g.kv_len);
    CHECK(stats.seen_by.to_vector() == seen_by);
    const double received = std::accumulate(stats.received.begin(), stats.received.end(), 0.0);
    CHECK(std::abs(received - valid_rows) <= 1e-4 * (valid_rows + 1.0));
  }
  CHECK(r.report.invalid_rows == invalid);
  CHECK(r.report.empty_rows == empty);
}

std::vector<std::vector<Row>> all_rows(const Problem& p, Row row) {
  return std::vector<std::vector<Row>>(p.shape.q_heads, std::vector<Row>(p.shape.q_len, row));
}

}  // namespace

TEST_CASE("a NaN or +inf score makes its row NaN with lse NaN, counted invalid, out of the statistics",
          "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  CAPTURE(name_of(kernel));
  Problem p = sink_problem();
  auto status = all_rows(p, Row::valid);
  p.q_at(0, 5, 1) = nan_value;  // NaN through Q: every score of head 0, row 5
  status[0][5] = Row::invalid;
  p.q_at(1, 2, 0) = inf;  // +inf through Q: every score of head 1, row 2
  status[1][2] = Row::invalid;
  p.k_at(0, 9, 0) = inf;  // +inf through K: rows 9.. of both heads see key 9
  for (std::size_t i = 9; i < 12; ++i) status[0][i] = status[1][i] = Row::invalid;
  const Result r = run(kernel, p, paper_calibration());
  check_rows(p, r, status);
  CHECK(r.report.rows_calibrated > 0);  // the valid rows were still calibrated
}

TEST_CASE("a -inf score takes no weight; a row whose visible scores are all -inf is empty", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  CAPTURE(name_of(kernel));
  Problem p = sink_problem(2);
  auto status = all_rows(p, Row::valid);
  SECTION("through K: a masked key, and the rows that see only masked keys") {
    p.k_at(0, 6, 0) = -inf;  // key 6 is masked for every row
    p.k_at(0, 0, 0) = -inf;  // and key 0, all that row 0 sees
    status[0][0] = status[1][0] = Row::empty;
    const Result r = run(kernel, p, paper_calibration());
    check_rows(p, r, status);
    CHECK(r.running[0].received[6] == 0.0f);
    // A key with weight 0 contributes nothing, whatever its value.
    Problem changed = p;
    for (std::size_t c = 0; c < 4; ++c) changed.v_at(0, 6, c) = 1e6f;
    CHECK(same_bits(run(kernel, changed, paper_calibration()).out, r.out));
  }
  SECTION("through Q: every score of a row") {
    p.q_at(0, 7, 0) = -inf;
    status[0][7] = Row::empty;
    check_rows(p, run(kernel, p, paper_calibration()), status);
  }
}

TEST_CASE("rows that see no key are empty: output 0, lse -inf, no statistics", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  const Masking masking = GENERATE(Masking::causal, Masking::none);
  CAPTURE(name_of(kernel), masking == Masking::causal);
  const Problem p = padded_problem(3, masking, 0);
  const Result r = run(kernel, p, paper_calibration());
  check_rows(p, r, all_rows(p, Row::empty));
  CHECK(r.report.rows_calibrated == 0);
  CHECK(r.report.sinks_selected == 0);
  for (const SinkSet& sinks : r.sinks) CHECK(sinks.empty());
}

TEST_CASE("a column no query saw has mean 0 and is never a sink", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  const Masking masking = GENERATE(Masking::causal, Masking::none);
  CAPTURE(name_of(kernel), masking == Masking::causal);
  const Problem p = padded_problem(4, masking, 5);
  // A threshold below every mean makes every column some query saw a sink, and only those.
  const auto every_seen_column = Calibration{ColumnMeanThreshold(-1.0f, KeepSink::none), Redistribute(0.4f)};
  const Result r = run(kernel, p, every_seen_column);
  check_rows(p, r, all_rows(p, Row::valid));
  for (std::size_t h = 0; h < 2; ++h) {
    CAPTURE(h);
    CHECK(r.sinks[h] == SinkSet{0, 1, 2, 3, 4});
    for (std::size_t j = 5; j < 12; ++j) CHECK(r.running[h].view().mean(j) == 0.0f);
  }
}

TEST_CASE("rows whose weight all sits on sinks are left unchanged and counted degenerate", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  CAPTURE(name_of(kernel));
  // Keys 0 and 1 lead every other key by 200 logits: the rest's weight underflows to 0.
  AttentionOptions options;
  options.scale = 1.0f;
  Problem p({2, 1, 10, 10, 2}, options);
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t i = 0; i < 10; ++i) p.q_at(h, i, 0) = 1.0f;
  for (std::size_t j = 0; j < 10; ++j) {
    p.k_at(0, j, 0) = j < 2 ? 200.0f : 0.0f;
    p.v_at(0, j, 0) = static_cast<float>(j);
    p.v_at(0, j, 1) = 1.0f;
  }
  const auto calibrate_both = Calibration{ColumnMeanThreshold(0.1f, KeepSink::none), Redistribute(0.4f)};
  const Result r = run(kernel, p, calibrate_both);
  CHECK(r.sinks == std::vector<SinkSet>{{0, 1}, {0, 1}});
  CHECK(r.report.degenerate_rows == 2 * 10);
  CHECK(r.report.rows_calibrated == 0);
  CHECK(same_bits(r.out, run(kernel, p, NoCalibration{}).out));
  check_rows(p, r, all_rows(p, Row::valid));
}

TEST_CASE("an empty sink set leaves attention as it is", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  CAPTURE(name_of(kernel));
  SECTION("no column above tau") {
    const Problem p = sink_problem(5);
    const Result r = run(kernel, p, paper_calibration(0.4f, 0.99f));
    CHECK(r.report == CalibrationReport{});
    CHECK(same_bits(r.out, run(kernel, p, NoCalibration{}).out));
  }
  SECTION("the only candidate is the one kept") {
    Problem p = random_problem({2, 1, 12, 12, 4}, {}, 6);
    plant_sinks(p, {0}, 20.0f);
    const auto keep_none = Calibration{ColumnMeanThreshold(0.1f, KeepSink::none), Redistribute(0.4f)};
    REQUIRE(run(kernel, p, keep_none).sinks == std::vector<SinkSet>{{0}, {0}});
    const Result r = run(kernel, p, paper_calibration());
    CHECK(r.sinks == std::vector<SinkSet>{{}, {}});
    CHECK(r.report == CalibrationReport{});
    CHECK(same_bits(r.out, run(kernel, p, NoCalibration{}).out));
  }
}

namespace {

// Both NaN, both the same infinity, or both finite.
bool same_kind(float actual, float expected) {
  if (std::isnan(expected) || std::isinf(expected))
    return std::bit_cast<std::uint32_t>(actual) == std::bit_cast<std::uint32_t>(expected) ||
           (std::isnan(actual) && std::isnan(expected));
  return std::isfinite(actual);
}

}  // namespace

// Issue 15: the vector P V multiplied the value rows of keys a row cannot see by weight 0, so an
// infinite value reached rows before it (0 * inf = NaN), and an empty row whose only key had an
// infinite value came out NaN instead of 0.
TEST_CASE("a non-finite value reaches only the rows that see its key", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::reference, Kernel::fused, Kernel::corrected);
  const float specials[] = {inf, -inf, nan_value};
  const float special = specials[GENERATE(0, 1, 2)];
  CAPTURE(name_of(kernel), special);
  Problem p = random_problem({2, 1, 20, 20, 8}, {}, 17);
  plant_sinks(p, {0, 5}, 8.0f);
  SECTION("a value of a sink column, causal") {
    p.v_at(0, 5, 0) = special;
    const Result r = run(kernel, p, paper_calibration());
    const Result ref = run(Kernel::reference, p, paper_calibration());
    for (std::size_t h = 0; h < 2; ++h) {
      for (std::size_t i = 0; i < 20; ++i) {
        CAPTURE(h, i);
        for (std::size_t c = 0; c < 8; ++c) {
          const float x = r.out[(h * 20 + i) * 8 + c];
          CHECK(std::isfinite(x) == (i < 5 || c != 0));
          CHECK(same_kind(x, ref.out[(h * 20 + i) * 8 + c]));
        }
      }
    }
  }
  SECTION("the only key of an empty row") {
    p.options.valid_keys = 1;
    p.options.query_position = 0;
    p.k_at(0, 0, 0) = -inf;  // every row's only score is -inf: empty
    p.v_at(0, 0, 3) = special;
    const Result r = run(kernel, p, paper_calibration());
    CHECK(r.report.empty_rows == 40);
    for (float x : r.out) CHECK(x == 0.0f);
  }
}

// Found by fuzz/fuzz_attention.cpp: an infinite value on a sink key made o and o_sink the same
// infinity, and the correction rest (o - o_sink) + sink o_sink gave NaN where the oracle keeps the
// infinity (NaN only for beta = 0: 0 * inf). Block kernel (12 queries), decode kernel (1 query)
// and correct().
TEST_CASE("an infinite value on a sink key stays infinite after calibration", "[kernels][robustness]") {
  const Kernel kernel = GENERATE(Kernel::fused, Kernel::corrected);
  const std::size_t queries = GENERATE(12, 1);
  const float special =
      GENERATE(as<float>{}, inf, -inf);  // as<>: an lvalue first value made Catch keep references (to a dead -inf)
  const float beta = GENERATE(0.4f, 1.0f, 0.0f);
  CAPTURE(name_of(kernel), queries, special, beta);
  Problem p = random_problem({2, 1, queries, 12, 8}, {}, 29);
  plant_sinks(p, {3}, 8.0f);
  p.v_at(0, 3, 2) = special;
  const auto calibration = Calibration{ColumnMeanThreshold(0.1f, KeepSink::none), Redistribute(beta)};
  const Result r = run(kernel, p, calibration);
  const Result ref = run(Kernel::reference, p, calibration);
  REQUIRE(std::count(ref.sinks[0].begin(), ref.sinks[0].end(), 3u) == 1);  // key 0 may be one too
  CHECK(r.report.rows_calibrated == ref.report.rows_calibrated);
  for (std::size_t e = 0; e < ref.out.size(); ++e) {
    CAPTURE(e);
    CHECK(same_kind(r.out[e], ref.out[e]));
  }
}
