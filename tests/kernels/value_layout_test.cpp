// V stored transposed ([kv_heads][head_dim][kv_len], llama.cpp's V cache without flash attention).
// The oracle reads it in place and must give exactly its key-row result (the same double sums);
// the fused entry points copy it to key rows first, so act::attention, correct() and
// SlicedAttention must give exactly their key-row results, which the other kernel tests hold to the
// oracle. Cells no query sees are filled with NaN to show they are never read.
#include "kernel_testing.hpp"

#include <stdexcept>

using namespace act;
using namespace act::testing;

namespace {

// p.v as [kv_heads][dim][kv_len] in `Element`; cells at or past `readable` hold NaN.
template <class Element>
std::vector<Element> transposed(const Problem& p, std::size_t readable) {
  const Shape& s = p.shape;
  std::vector<Element> out(s.kv_heads * s.dim * s.kv_len);
  for (std::size_t h = 0; h < s.kv_heads; ++h)
    for (std::size_t c = 0; c < s.dim; ++c)
      for (std::size_t j = 0; j < s.kv_len; ++j) {
        const float x = j < readable ? p.v[(h * s.kv_len + j) * s.dim + c] : NAN;
        if constexpr (std::is_same_v<Element, Half>)
          out[(h * s.dim + c) * s.kv_len + j] = Half{exact_half(x)};
        else
          out[(h * s.dim + c) * s.kv_len + j] = x;
      }
  return out;
}

template <class Element>
HeadsView<const Element> keys_like(const std::vector<Element>& v, const Shape& s) {
  return head_major<const Element>(v.data(), s.kv_heads, s.kv_len, s.dim);
}

// act::attention (fused, or the oracle for float) with V in `layout`; K and V are p's in Element.
template <class Element, class Cal>
Result run(const Problem& p, const Cal& calibration, ValueLayout layout, std::size_t readable, bool oracle = false) {
  const Shape& s = p.shape;
  const bool flipped = layout == ValueLayout::transposed;
  const std::vector<Element> k = narrow<Element>(p.k),
                             v = flipped ? transposed<Element>(p, readable) : narrow<Element>(p.v);
  const auto keys = head_major<const Element>(k.data(), s.kv_heads, s.kv_len, s.dim);
  const auto values = flipped ? head_major<const Element>(v.data(), s.kv_heads, s.dim, s.kv_len) : keys_like(v, s);
  AttentionOptions options = p.options;
  options.values = layout;
  Result r{std::vector<float>(p.q.size()), std::vector<float>(s.q_heads * s.q_len), {}, {}, {}};
  const AttentionExtras extras = extras_for(r, {}, s.q_heads);
  const auto out = head_major(r.out.data(), s.q_heads, s.q_len, s.dim);
  if constexpr (std::is_same_v<Element, float>)
    if (oracle) {
      r.report = reference::attention<float>(p.queries(), keys, values, out, options, calibration, extras);
      return r;
    }
  r.report = attention(p.queries(), keys, values, out, options, calibration, extras);
  return r;
}

void check_same(const Result& a, const Result& b) {
  CHECK(a.out == b.out);
  CHECK(a.lse == b.lse);
  CHECK(a.sinks == b.sinks);
  CHECK(a.report == b.report);
}

}  // namespace

namespace {

struct Case {
  const char* name;
  Shape shape;
  Masking masking;
  std::size_t valid_keys;                     // the cache's used cells; the rest are padding
  std::optional<std::size_t> query_position;  // causal calls on a padded cache need it
};

// Sinks at keys 0 and 5 with a score of about 2 (strength grows with sqrt(dim) as the scale
// shrinks), so the paper's calibration corrects rows at every head dimension.
Problem case_problem(const Case& c, std::size_t dim) {
  AttentionOptions options;
  options.masking = c.masking;
  options.valid_keys = c.valid_keys;
  options.query_position = c.query_position;
  Shape shape = c.shape;
  shape.dim = dim;
  Problem p = random_problem(shape, options, static_cast<std::uint32_t>(dim * 31 + shape.q_len));
  plant_sinks(p, {0, 5}, 2.0f * std::sqrt(static_cast<float>(dim)));
  return p;
}

}  // namespace

TEST_CASE("transposed V gives exactly the key-row result, in the oracle and the fused kernels", "[kernels][layout]") {
  const Case c = GENERATE(Case{"causal prefill", {6, 2, 37, 37, 0}, Masking::causal, 37, {}},
                          Case{"decode step", {6, 2, 1, 37, 0}, Masking::causal, 37, {}},
                          Case{"padded cache, 12 queries after 18 keys", {6, 2, 12, 48, 0}, Masking::causal, 30, 18},
                          Case{"no mask, 40 of 48 cells", {6, 2, 9, 48, 0}, Masking::none, 40, {}});
  const std::size_t dim = GENERATE(5, 64);
  CAPTURE(c.name, dim);
  const Problem p = case_problem(c, dim);
  const auto calibration = paper_calibration();
  check_against_reference(p, calibration);
  const Result rows = run<float>(p, calibration, ValueLayout::key_rows, c.valid_keys);
  CHECK(rows.report.rows_calibrated > 0);
  check_same(run<float>(p, calibration, ValueLayout::transposed, c.valid_keys), rows);
  check_same(run<float>(p, calibration, ValueLayout::transposed, c.valid_keys, true),
             run<float>(p, calibration, ValueLayout::key_rows, c.valid_keys, true));
  // Half: K and V on a grid of sixteenths (exact in half), padding cells finite (NaN has no exact half).
  Problem on_grid = p;
  for (auto* tensor : {&on_grid.k, &on_grid.v})
    for (float& x : *tensor) x = std::round(x * 16.0f) / 16.0f;
  check_same(run<Half>(on_grid, calibration, ValueLayout::transposed, c.shape.kv_len),
             run<Half>(on_grid, calibration, ValueLayout::key_rows, c.shape.kv_len));
}

TEST_CASE("correct() and SlicedAttention read a transposed V", "[kernels][layout][engine]") {
  const Problem p = case_problem({"padded", {6, 2, 12, 48, 0}, Masking::causal, 30, 18}, 24);
  const Shape& s = p.shape;
  const auto calibration = paper_calibration();
  const std::vector<float> flipped = transposed<float>(p, 30);
  const auto values = head_major<const float>(flipped.data(), s.kv_heads, s.dim, s.kv_len);
  AttentionOptions options = p.options;
  options.values = ValueLayout::transposed;

  const Result plain = run_fused(p, NoCalibration{});
  std::vector<float> by_rows = plain.out, by_columns = plain.out;
  const auto out_of = [&](std::vector<float>& o) { return head_major(o.data(), s.q_heads, s.q_len, s.dim); };
  const CalibrationReport rows_report =
      correct(p.queries(), p.keys(), p.values(), out_of(by_rows), plain.lse, p.options, calibration);
  const CalibrationReport columns_report =
      correct(p.queries(), p.keys(), values, out_of(by_columns), plain.lse, options, calibration);
  CHECK(rows_report.rows_calibrated > 0);
  CHECK(columns_report == rows_report);
  CHECK(by_columns == by_rows);

  std::vector<float> sliced(p.q.size());
  SlicedAttention<decltype(calibration)> call(p.queries(), p.keys(), values, out_of(sliced), options, calibration, {},
                                              3);
  for (std::size_t phase = 0; phase < call.phases(); ++phase)
    for (std::size_t ith = 0; ith < call.slices(); ++ith) REQUIRE(call.run(phase, ith).ok());
  CHECK(sliced == run_fused(p, calibration).out);
}

TEST_CASE("a transposed V that does not fit K is refused", "[kernels][layout][errors]") {
  const Problem p = random_problem({4, 2, 8, 8, 16}, {}, 3);
  std::vector<float> out(p.q.size());
  const auto output = head_major(out.data(), 4, 8, 16);
  AttentionOptions options;
  options.values = ValueLayout::transposed;
  // Key rows passed as if transposed: [2, 8, 16] where [2, 16, 8] is expected.
  REQUIRE_THROWS_WITH(attention(p.queries(), p.keys(), p.values(), output, options),
                      Catch::Contains("transposed V [2, 8, 16] does not fit K [2, 8, 16]"));
  const Status status = try_attention(p.queries(), p.keys(), p.values(), output, options);
  CHECK(status.code == StatusCode::invalid_argument);
  CHECK(std::string(status.message).find("transposed V") != std::string::npos);
  // The same view declared as key rows is fine.
  CHECK_NOTHROW(attention(p.queries(), p.keys(), p.values(), output));
}
