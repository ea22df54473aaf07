// act::attention (fused, float32) against act::reference::attention (double, materialised map),
// held to the float32 error bounds derived in kernel_testing.hpp.
#include "kernel_testing.hpp"

#include <cstring>
#include <string>

using namespace act;
using namespace act::testing;

namespace {

struct Layout {
  const char* name;
  Masking masking;
  std::size_t q_len, kv_len, valid_keys;
  std::optional<std::size_t> query_position = {};
};

const Layout layouts[] = {
    {"causal prefill", Masking::causal, 37, 37, std::numeric_limits<std::size_t>::max()},
    {"causal, kv_len > q_len", Masking::causal, 21, 50, std::numeric_limits<std::size_t>::max()},
    {"non-causal", Masking::none, 29, 40, std::numeric_limits<std::size_t>::max()},
    {"causal with padding, queries end the valid keys", Masking::causal, 21, 40, 26, 5},
    {"causal with padding, queries start at 0", Masking::causal, 33, 40, 26, 0},
    {"non-causal with padding", Masking::none, 19, 40, 23},
};

}  // namespace

TEST_CASE("fused attention with ACT matches the reference on random problems", "[kernels][fused]") {
  const std::size_t dim = GENERATE(1, 3, 17, 64, 80, 128);
  const std::size_t group = GENERATE(1, 3, 8);
  const std::size_t layout_index = GENERATE(range<std::size_t>(0, std::size(layouts)));
  const bool planted = GENERATE(false, true);
  const Layout& layout = layouts[layout_index];
  CAPTURE(dim, group, layout.name, planted);
  AttentionOptions options;
  options.masking = layout.masking;
  options.valid_keys = layout.valid_keys;
  options.query_position = layout.query_position;
  const std::size_t kv_heads = group == 8 ? 1 : 2;
  Problem p = random_problem({kv_heads * group, kv_heads, layout.q_len, layout.kv_len, dim}, options,
                             static_cast<std::uint32_t>(dim * 100 + group * 10 + layout_index));
  if (planted) plant_sinks(p, {0, 5, 11}, 4.0f * std::sqrt(static_cast<float>(dim)));
  const CalibrationReport report = check_against_reference(p, paper_calibration(0.4f, 0.1f));
  if (planted) CHECK(report.rows_calibrated > 0);
  check_against_reference(p, NoCalibration{});
}

TEST_CASE("every policy behaves the same in both kernels", "[kernels][fused]") {
  AttentionOptions options;
  options.masking = GENERATE(Masking::causal, Masking::none);
  Problem p = random_problem({6, 2, 45, 45, 24}, options, 7);
  // Sink logits up to about 8 above the rest: with KeepSink::none, early rows put almost all mass
  // on column 0, but r stays far above Redistribute's 1e-6 floor (no ambiguous rows).
  plant_sinks(p, {0, 9, 30}, 8.0f);
  const auto calibrates = [](const CalibrationReport& report) {
    CHECK(report.sinks_selected > 0);
    CHECK(report.rows_calibrated > 0);
  };
  SECTION("paper calibration, chat threshold") {
    calibrates(check_against_reference(p, paper_calibration(0.4f, 0.15f)));
  }
  SECTION("keep token zero") {
    calibrates(
        check_against_reference(p, Calibration{ColumnMeanThreshold(0.1f, KeepSink::token_zero), Redistribute(0.4f)}));
  }
  SECTION("keep none") {
    calibrates(check_against_reference(p, Calibration{ColumnMeanThreshold(0.1f, KeepSink::none), Redistribute(0.4f)}));
  }
  SECTION("top-k columns") {
    const CalibrationReport report = check_against_reference(p, Calibration{TopKColumns(3), Redistribute(0.2f)});
    calibrates(report);
    CHECK(report.sinks_selected == 3 * 6);
  }
  SECTION("scale only") {
    calibrates(check_against_reference(p, Calibration{ColumnMeanThreshold(0.1f), ScaleOnly(0.5f)}));
  }
  SECTION("identity rescaler: sinks chosen, rows counted, output unchanged") {
    const auto calibration = Calibration{ColumnMeanThreshold(0.1f), Identity{}};
    check_against_reference(p, calibration);
    const Result identity = run_fused(p, calibration), plain = run_fused(p, NoCalibration{});
    CHECK(identity.out == plain.out);
    CHECK(identity.report.sinks_selected > 0);
    CHECK(identity.report.rows_calibrated > 0);
  }
  SECTION("no sinks: statistics skipped, nothing counted") {
    const Result r = run_fused(p, Calibration{NoSinks{}, Redistribute{}}, {{}, true, {}});
    CHECK(r.report == CalibrationReport{});
    for (const ColumnStats& stats : r.running) CHECK(stats.size() == 0);
  }
}

TEST_CASE("only the heads selected by calibrated_heads are calibrated", "[kernels][fused]") {
  Problem p = random_problem({4, 2, 30, 30, 16}, {}, 11);
  plant_sinks(p, {0, 7}, 16.0f);
  RunOptions run;
  run.calibrated_heads = {0, 1, 0, 1};
  check_against_reference(p, paper_calibration(), run);
  const Result calibrated = run_fused(p, paper_calibration(), run), plain = run_fused(p, NoCalibration{});
  const std::size_t head_size = 30 * 16;
  for (std::size_t h : {0u, 2u}) {
    CHECK(calibrated.sinks[h].empty());
    CHECK(std::equal(plain.out.begin() + h * head_size, plain.out.begin() + (h + 1) * head_size,
                     calibrated.out.begin() + h * head_size));
  }
  CHECK(calibrated.sinks[1] == SinkSet{7});
}

TEST_CASE("adversarial inputs follow the reference semantics", "[kernels][fused][edge]") {
  const auto calibration = paper_calibration(0.4f, 0.1f);
  SECTION("huge logits: max subtraction keeps them finite") {
    // d = 1, scale 1, q = 1 and integer keys 40000..40005: every score is an integer below 2^24,
    // exact in float, so the bounds use D_i = 0. Without subtracting the max, exp(40000) overflows.
    AttentionOptions options;
    options.scale = 1.0f;
    Problem p({2, 1, 24, 24, 1}, options);
    std::fill(p.q.begin(), p.q.end(), 1.0f);
    for (std::size_t j = 0; j < 24; ++j) {
      p.k_at(0, j, 0) = static_cast<float>(40000 + (j * 7) % 6);
      p.v_at(0, j, 0) = static_cast<float>(j);
    }
    Expectations expect;
    expect.bounds.exact_scores = true;
    check_against_reference(p, calibration, {}, expect);
    const Result r = run_fused(p, calibration);
    for (float x : r.out) CHECK(std::isfinite(x));
    CHECK(r.report.invalid_rows == 0);
  }
  SECTION("-inf scores are masked; a row seeing only -inf is empty") {
    Problem p = random_problem({2, 2, 20, 20, 8}, {}, 3);
    plant_sinks(p, {0, 6}, 12.0f);  // every q[., 0] > 0
    for (std::size_t h = 0; h < 2; ++h)
      for (std::size_t j : {0u, 3u, 4u}) {
        std::fill_n(&p.k_at(h, j, 0), 8, 0.0f);
        p.k_at(h, j, 0) = -std::numeric_limits<float>::infinity();
      }
    check_against_reference(p, calibration);
    const Result r = run_fused(p, calibration);
    CHECK(r.report.empty_rows == 2);  // row 0 of each head sees only key 0
    CHECK(r.out[0] == 0.0f);
    CHECK(r.lse[0] == -std::numeric_limits<float>::infinity());
  }
  SECTION("NaN or +inf scores make rows invalid and keep them out of the statistics") {
    Problem p = random_problem({2, 1, 25, 25, 8}, {}, 5);
    plant_sinks(p, {0, 4}, 12.0f);
    p.q_at(0, 3, 2) = std::numeric_limits<float>::quiet_NaN();  // row 3 of head 0
    std::fill_n(&p.k_at(0, 17, 0), 8, 0.0f);
    p.k_at(0, 17, 0) = std::numeric_limits<float>::infinity();  // rows >= 17 see +inf
    check_against_reference(p, calibration);
    const Result r = run_fused(p, calibration);
    CHECK(r.report.invalid_rows == 2 * 8 + 1);
    CHECK(std::isnan(r.out[3 * 8]));
    CHECK(std::isnan(r.lse[3]));
    for (std::size_t e = 0; e < 17 * 8; ++e)
      if (e / 8 != 3) CHECK(!std::isnan(r.out[e]));
  }
  SECTION("all mass on sinks (r = 0) leaves rows unchanged and counts them") {
    // Sinks at 0 and 1 dominate by 200 logits: every other weight underflows (exp(-200) = 0 in
    // float), so r is 0 (reference: about 1e-87, below Redistribute's 1e-6 floor). Ten rows keep
    // the rounding of m (gamma(|S| + n + 2) <= 14 u) clear of that floor.
    AttentionOptions options;
    options.scale = 1.0f;
    Problem p({1, 1, 10, 10, 2}, options);
    for (std::size_t i = 0; i < 10; ++i) {
      p.q_at(0, i, 0) = 1.0f;
      p.q_at(0, i, 1) = 0.0f;
    }
    for (std::size_t j = 0; j < 10; ++j) {
      p.k_at(0, j, 0) = j < 2 ? 200.0f : 0.0f;
      p.v_at(0, j, 0) = static_cast<float>(j);
      p.v_at(0, j, 1) = 1.0f;
    }
    const auto keep_none = Calibration{ColumnMeanThreshold(0.1f, KeepSink::none), Redistribute(0.4f)};
    Expectations expect;
    expect.bounds.exact_scores = true;
    check_against_reference(p, keep_none, {}, expect);
    const Result r = run_fused(p, keep_none);
    CHECK(r.sinks[0] == SinkSet{0, 1});
    CHECK(r.report.degenerate_rows == 10);
    CHECK(r.report.rows_calibrated == 0);
  }
  SECTION("a single token") {
    Problem p = random_problem({3, 1, 1, 1, 5}, {}, 9);
    check_against_reference(p, calibration);
    check_against_reference(p, Calibration{ColumnMeanThreshold(0.1f, KeepSink::none), Redistribute(0.4f)});
    const Result r = run_fused(p, calibration);
    for (std::size_t c = 0; c < 5; ++c) CHECK(r.out[c] == p.v[c]);
  }
  SECTION("rows that see no key: no valid keys, or no keys at all") {
    AttentionOptions options;
    options.masking = Masking::none;
    options.valid_keys = 0;
    check_against_reference(random_problem({2, 2, 5, 9, 4}, options, 1), calibration);
    const Problem p = random_problem({2, 2, 5, 1, 4}, options, 1);
    std::vector<float> out(p.q.size(), 1.0f), lse(10, 0.0f);
    AttentionExtras extras;
    extras.lse = lse;
    const auto no_keys = [](const float* data) { return head_major(data, 2, 0, 4); };
    const CalibrationReport report = attention(p.queries(), no_keys(p.k.data()), no_keys(p.v.data()),
                                               head_major(out.data(), 2, 5, 4), options, calibration, extras);
    CHECK(report.empty_rows == 10);
    for (float x : out) CHECK(x == 0.0f);
    for (float x : lse) CHECK(x == -std::numeric_limits<float>::infinity());
  }
  SECTION("decode shape: one query at the end of a long cache") {
    check_against_reference(random_problem({8, 2, 1, 300, 64}, {}, 13), calibration);
  }
}

TEST_CASE("a column mean exactly at tau is not a sink, just below it is", "[kernels][fused][ties]") {
  // q = 0: every score is 0 and every weight is exactly 1/8 in float and double, so each column's
  // mean is exactly 0.125: with tau = 0.125 the strict test selects nothing, with the next float
  // below, every column is a candidate (the first is kept).
  AttentionOptions options;
  options.masking = Masking::none;
  Problem p = random_problem({2, 2, 8, 8, 4}, options, 21);
  std::fill(p.q.begin(), p.q.end(), 0.0f);
  const Result at = run_fused(p, paper_calibration(0.4f, 0.125f));
  const Result at_reference = run_reference(p, paper_calibration(0.4f, 0.125f));
  CHECK(at.sinks[0].empty());
  CHECK(at_reference.sinks[0].empty());
  const float below = std::nextafter(0.125f, 0.0f);
  const Result under = run_fused(p, paper_calibration(0.4f, below));
  CHECK(under.sinks[0] == SinkSet{1, 2, 3, 4, 5, 6, 7});
  check_against_reference(p, paper_calibration(0.4f, below));
}

TEST_CASE("calibrated rows still sum to one", "[kernels][fused]") {
  // V = identity: output row i is the calibrated weight row A'_i itself.
  AttentionOptions options;
  options.masking = GENERATE(Masking::causal, Masking::none);
  const std::size_t n = 24;
  Problem p = random_problem({2, 1, n, n, n}, options, 17);
  plant_sinks(p, {0, 4, 13}, 12.0f);
  std::fill(p.v.begin(), p.v.end(), 0.0f);
  for (std::size_t j = 0; j < n; ++j) p.v_at(0, j, j) = 1.0f;
  const float beta = 0.4f;
  const Result r = run_fused(p, paper_calibration(beta, 0.1f));
  REQUIRE(r.report.rows_calibrated > 0);
  REQUIRE(r.report.degenerate_rows == 0);
  // With r~ = 1 - m~ the fused row sums to rest * (sum of its weights - 1) + 1 exactly, and its
  // weights sum to 1 within error_gamma(2 n + 8) (error model), so |sum - 1| <= rest error_gamma(2 n + 8) plus
  // one rounding per added entry (n u).
  for (std::size_t h = 0; h < 2; ++h) {
    const reference::HeadMap map = reference_map(p, h);
    for (std::size_t i = 0; i < n; ++i) {
      double m = 0.0, sum = 0.0;
      for (std::uint32_t s : r.sinks[h]) m += s < map.visible[i] ? map.at(i, s) : 0.0;
      const double rest = 1.0 + (1.0 - beta) * m / (1.0 - m);
      const float* row = &r.out[(h * n + i) * n];
      for (std::size_t c = 0; c < n; ++c) {
        CHECK(row[c] >= -unit_roundoff);
        sum += row[c];
      }
      CHECK(std::abs(sum - 1.0) <= (rest + 1.0) * error_gamma(2.0 * n + 8.0) + n * unit_roundoff);
    }
  }
}

TEST_CASE("one and two threads give identical results", "[kernels][fused][threads]") {
  Problem p = random_problem({6, 3, 70, 70, 32}, {}, 23);
  plant_sinks(p, {0, 3, 40}, 20.0f);
  const auto calibration = paper_calibration();
  Result results[2];
  for (int threads : {1, 2}) {
    p.options.threads = threads;
    results[threads - 1] = run_fused(p, calibration);
  }
  // Per-row work does not depend on the schedule; only the column sums' summation order does,
  // which can move a mean by an ulp: the sink sets here are far from tau, so all must agree bitwise.
  CHECK(results[0].sinks == results[1].sinks);
  CHECK(results[0].out == results[1].out);
  CHECK(results[0].lse == results[1].lse);
  CHECK(results[0].report == results[1].report);
}

TEST_CASE("token-major views give the same result as head-major ones", "[kernels][fused][layout]") {
  const std::size_t heads = 4, kv_heads = 2, n = 19, d = 6;
  Problem p = random_problem({heads, kv_heads, n, n, d}, {}, 29);
  plant_sinks(p, {0, 5}, 10.0f);
  const auto to_token_major = [](const std::vector<float>& head_major_data, std::size_t h_count) {
    std::vector<float> t(head_major_data.size());
    for (std::size_t h = 0; h < h_count; ++h)
      for (std::size_t i = 0; i < n; ++i) std::copy_n(&head_major_data[(h * n + i) * d], d, &t[(i * h_count + h) * d]);
    return t;
  };
  const std::vector<float> q = to_token_major(p.q, heads), k = to_token_major(p.k, kv_heads),
                           v = to_token_major(p.v, kv_heads);
  std::vector<float> out(q.size());
  attention(token_major(q.data(), heads, n, d), token_major(k.data(), kv_heads, n, d),
            token_major(v.data(), kv_heads, n, d), token_major(out.data(), heads, n, d), {}, paper_calibration());
  CHECK(out == to_token_major(run_fused(p, paper_calibration()).out, heads));
}

TEST_CASE("an exception from a policy reaches the caller", "[kernels][fused][errors]") {
  // Thrown inside the OpenMP region, it must be carried out of it (not terminate the program).
  Problem p = random_problem({4, 2, 40, 40, 8}, {}, 37);
  p.options.threads = 2;
  CHECK_THROWS_AS(run_fused(p, Calibration{ThrowingDetector{}, Redistribute{}}), std::runtime_error);
  Result given = run_reference(p, NoCalibration{});
  CHECK_THROWS_AS(correct(p.queries(), p.keys(), p.values(), head_major(given.out.data(), 4, 40, 8), given.lse,
                          p.options, Calibration{ThrowingDetector{}, Redistribute{}}),
                  std::runtime_error);
}

TEST_CASE("bad shapes are rejected", "[kernels][fused][errors]") {
  Problem p = random_problem({4, 2, 8, 8, 4}, {}, 31);
  std::vector<float> out(p.q.size());
  const auto output = head_major(out.data(), 4, 8, 4);
  CHECK_THROWS_AS(attention(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 3)), std::invalid_argument);
  CHECK_THROWS_AS(attention(head_major(p.q.data(), 3, 8, 4), p.keys(), p.values(), head_major(out.data(), 3, 8, 4)),
                  std::invalid_argument);
  std::vector<float> short_lse(5);
  AttentionExtras extras;
  extras.lse = short_lse;
  CHECK_THROWS_AS(attention(p.queries(), p.keys(), p.values(), output, {}, NoCalibration{}, extras),
                  std::invalid_argument);
  AttentionOptions causal;
  CHECK_THROWS_AS(
      attention(p.queries(), head_major(p.k.data(), 2, 4, 4), head_major(p.v.data(), 2, 4, 4), output, causal),
      std::invalid_argument);
  AttentionOptions positioned = causal;
  positioned.query_position = 0;
  CHECK_NOTHROW(
      attention(p.queries(), head_major(p.k.data(), 2, 4, 4), head_major(p.v.data(), 2, 4, 4), output, positioned));
  AttentionOptions unpositioned;
  unpositioned.masking = Masking::none;
  unpositioned.query_position = 3;
  CHECK_THROWS_AS(attention(p.queries(), p.keys(), p.values(), output, unpositioned), std::invalid_argument);
}

// The kernels write output rows while other rows still read the inputs, so an output sharing memory
// with Q, K or V is refused (by the address ranges the views span); one right next to an input
// (adjacent, not overlapping) is accepted and gives the same result as a buffer of its own.
TEST_CASE("an output overlapping Q, K or V is refused", "[kernels][fused][errors]") {
  Problem p = random_problem({4, 2, 8, 8, 4}, {}, 32);
  const auto overlap_message = Catch::Contains("overlaps");
  const auto on_q = head_major(p.q.data(), 4, 8, 4);
  CHECK_THROWS_WITH(attention(p.queries(), p.keys(), p.values(), on_q), overlap_message);
  CHECK_THROWS_WITH(reference::attention(p.queries(), p.keys(), p.values(), on_q), overlap_message);
  // K and the output in one buffer [K | output]: starting one element early overlaps K's last element.
  std::vector<float> shared(p.k.size() + p.q.size() + 1);
  std::copy(p.k.begin(), p.k.end(), shared.begin());
  const auto keys = head_major(static_cast<const float*>(shared.data()), 2, 8, 4);
  CHECK_THROWS_WITH(attention(p.queries(), keys, p.values(), head_major(shared.data() + p.k.size() - 1, 4, 8, 4)),
                    Catch::Contains("overlaps K"));
  CHECK_THROWS_WITH(attention(p.queries(), p.keys(), head_major(static_cast<const float*>(shared.data()), 2, 8, 4),
                              head_major(shared.data() + p.k.size() - 1, 4, 8, 4)),
                    Catch::Contains("overlaps V"));
  const auto adjacent = head_major(shared.data() + p.k.size(), 4, 8, 4);
  std::vector<float> own(p.q.size());
  attention(p.queries(), keys, p.values(), adjacent, {}, paper_calibration());
  attention(p.queries(), p.keys(), p.values(), head_major(own.data(), 4, 8, 4), {}, paper_calibration());
  CHECK(std::equal(own.begin(), own.end(), shared.begin() + static_cast<std::ptrdiff_t>(p.k.size())));
}

// Issue 15: a 12-cell cache with 8 cells used and causal queries was answered for queries at the
// end of the 12 cells; it is now rejected, and with an explicit position it matches the oracle.
TEST_CASE("causal attention over a padded cache needs the query position", "[kernels][fused][errors]") {
  AttentionOptions options;
  options.valid_keys = 8;
  Problem p = random_problem({2, 1, 3, 12, 4}, options, 41);
  std::vector<float> out(p.q.size());
  const auto output = head_major(out.data(), 2, 3, 4);
  CHECK_THROWS_WITH(attention(p.queries(), p.keys(), p.values(), output, p.options), Catch::Contains("query_position"));
  CHECK_THROWS_AS(reference::attention<float>(p.queries(), p.keys(), p.values(), output, p.options),
                  std::invalid_argument);
  p.options.query_position = 5;  // the 3 queries are the last valid keys, 5..7
  check_against_reference(p, paper_calibration());
  const Result r = run_reference(p, NoCalibration{});
  // Row 0 sits at position 5: it sees keys 0..5 only (padding cells 8..11 are never seen).
  CHECK(p.geometry().visible_keys(0) == 6);
  CHECK(p.geometry().visible_keys(2) == 8);
  CHECK(std::isfinite(r.out[0]));
}

TEST_CASE("decode (one query row) matches the reference: keys in lanes, cache split in chunks", "[kernels][decode]") {
  // The decode path cuts the visible keys into chunks of at least 128 (at most 16 per head) and
  // merges them by log-sum-exp: lengths below, at and across chunk boundaries, dims with and
  // without a tail past the SIMD width, every GQA shape, and keys hidden by padding.
  const std::size_t dim = GENERATE(1, 8, 33, 64, 128);
  const std::size_t kv_len = GENERATE(1, 15, 128, 300, 2100);
  const std::size_t group = GENERATE(1, 3, 8);
  const Masking masking = GENERATE(Masking::causal, Masking::none);
  CAPTURE(dim, kv_len, group, masking == Masking::causal);
  AttentionOptions options;
  options.masking = masking;
  if (kv_len > 1) {
    options.valid_keys = kv_len - kv_len / 5;
    if (masking == Masking::causal) options.query_position = options.valid_keys - 1;  // the row ends the valid keys
  }
  const std::size_t kv_heads = group == 8 ? 1 : 2;
  Problem p = random_problem({kv_heads * group, kv_heads, 1, kv_len, dim}, options,
                             static_cast<std::uint32_t>(dim * 1000 + kv_len + group));
  // Sinks that a single row can see with a mean above tau: a single row's weight is its mean.
  plant_sinks(p, {0, kv_len / 3}, 4.0f * std::sqrt(static_cast<float>(dim)));
  check_against_reference(p, paper_calibration(0.4f, 0.1f));
  check_against_reference(p, NoCalibration{});
  check_against_reference(p, Calibration{TopKColumns{3}, ScaleOnly{0.5f}});
}

TEST_CASE("decode: thread counts agree bitwise and hidden keys are never read", "[kernels][decode][threads]") {
  Problem p = random_problem({9, 3, 1, 3000, 64}, {}, 41);
  plant_sinks(p, {0, 7, 1500}, 30.0f);
  p.options.valid_keys = 2500;
  p.options.query_position = 2499;
  // Keys past valid_keys hold inf and NaN: a kernel that multiplied them by a zero weight would
  // produce NaN; none may reach the output.
  for (std::size_t h = 0; h < 3; ++h)
    for (std::size_t j = 2500; j < 3000; ++j) {
      p.v_at(h, j, 0) = std::numeric_limits<float>::infinity();
      p.k_at(h, j, 1) = std::numeric_limits<float>::quiet_NaN();
    }
  const auto calibration = paper_calibration();
  Result results[3];
  for (int threads : {1, 2, 3}) {
    p.options.threads = threads;
    results[threads - 1] = run_fused(p, calibration);
  }
  for (float x : results[0].out) REQUIRE(std::isfinite(x));
  CHECK(results[0].report.rows_calibrated > 0);
  for (int t : {1, 2}) {
    CHECK(results[t].out == results[0].out);
    CHECK(results[t].lse == results[0].lse);
    CHECK(results[t].sinks == results[0].sinks);
    CHECK(results[t].report == results[0].report);
  }
  check_against_reference(p, calibration);
}

TEST_CASE("decode: invalid and empty rows", "[kernels][decode][edge]") {
  const auto calibration = paper_calibration();
  SECTION("a NaN query makes its head's row invalid, the others stay valid") {
    Problem p = random_problem({4, 2, 1, 200, 16}, {}, 43);
    plant_sinks(p, {0, 50}, 12.0f);
    p.q_at(1, 0, 3) = std::numeric_limits<float>::quiet_NaN();
    const Result r = run_fused(p, calibration);
    CHECK(r.report.invalid_rows == 1);
    CHECK(std::isnan(r.lse[1]));
    for (std::size_t c = 0; c < 16; ++c) CHECK(std::isnan(r.out[16 + c]));
    check_against_reference(p, calibration);
  }
  SECTION("no visible key: output 0, lse -inf") {
    AttentionOptions options;
    options.valid_keys = 0;
    options.query_position = 0;
    Problem p = random_problem({2, 1, 1, 40, 8}, options, 44);
    const Result r = run_fused(p, calibration);
    CHECK(r.report.empty_rows == 2);
    for (float x : r.out) CHECK(x == 0.0f);
    for (float x : r.lse) CHECK(x == -std::numeric_limits<float>::infinity());
    check_against_reference(p, calibration);
  }
}
