// Differential fuzzer of the attention kernels against the double-precision oracle
// (act::reference). The input bytes choose a case: geometry (heads, GQA group, queries, keys, head
// dimension), masking, valid keys, query position and scale; the K/V cache's element type (f32,
// f16, bf16) and layout (head-major, token-major, padded rows, transposed V); an additive mask (none, shared or
// per head, f32 or f16, hidden cells and whole hidden rows); a calibration (policies/); planted
// sinks (tiny rest mass), large logits and special values (inf, -inf, NaN, huge) in Q, K, V or the
// mask. The values come from a seeded generator so that every mutation keeps a well-formed case.
//
// Checked, each against the oracle on the same (widened) values, with the float32 error bounds of
// tests/kernels/kernel_bounds.hpp (its error model justifies them):
//  * act::attention (block kernel, or the split-K decode kernel for one unmasked query), in the
//    chosen layout: rejection of bad shapes, invalid/empty rows, sinks (up to legitimate ties),
//    outputs, lse and report;
//  * SlicedAttention run slice by slice;
//  * act::correct on the oracle's own plain output and lse (given O rounded to float: one more
//    weight error u, as in correct_test.cpp);
//  * with an f16/bf16 cache, attention, SlicedAttention and correct bitwise equal to float32;
//  * column_statistics (the stage) against the oracle's column statistics;
//  * calibrate_map on the oracle's map rounded to float: same statistics, sinks and gains, one
//    rounding per weight (map_calibration_test.cpp).
// A disagreement aborts (libFuzzer keeps the input as a crash).
#include <act/kernels/engine.hpp>
#include <act/kernels/map_calibration.hpp>
#include <act/kernels/stages.hpp>
#include <act/policies/initial_token.hpp>

#include "../tests/kernels/kernel_bounds.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

namespace {

using namespace act;
using namespace act::testing;

// Reads the input one byte at a time; past its end every byte is 0 (the simplest case).
class ByteStream {
 public:
  ByteStream(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t next() noexcept { return position_ < size_ ? data_[position_++] : std::uint8_t{0}; }
  std::size_t pick(std::size_t choices) noexcept { return next() % choices; }
  std::uint32_t word() noexcept {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = value << 8 | next();
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t position_ = 0;
};

enum class CacheType { f32, f16, bf16 };
// transposed_values: K head-major, V as [kv_heads][head_dim][kv_len] in padded rows
// (ValueLayout::transposed, llama.cpp's V cache without flash attention).
enum class Layout { head_major, token_major, padded, transposed_values };
enum class MaskKind { none, shared, per_head };

// `x` truncated to the nearest 16-bit value towards zero, as a float (exactly representable).
// Not inlined: GCC 12.2 at -O3 with AVX-512 vectorised the caller's loop over a cache and left
// the last 4 elements of 1140 unconverted (the loop's epilogue), which the 16-bit cache check then
// reported as a kernel disagreement.
[[gnu::noinline]] float truncate_to(CacheType type, float x) {
  if (type == CacheType::f32 || !std::isfinite(x)) return x;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if (type == CacheType::bf16) return bf16_to_f32(static_cast<std::uint16_t>(bits >> 16));
  const float magnitude = std::abs(x);
  if (magnitude < 0x1p-14f) return std::copysign(0.0f, x);  // below half's normals: zero
  if (magnitude > 65504.0f) return std::copysign(65504.0f, x);
  return std::bit_cast<float>(bits & 0xFFFFE000u);  // half keeps 10 of float's 23 mantissa bits
}

std::uint16_t storage_bits(CacheType type, float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if (type == CacheType::bf16) return static_cast<std::uint16_t>(bits >> 16);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  if (std::isnan(x)) return static_cast<std::uint16_t>(sign | 0x7E00u);
  if (std::isinf(x)) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (x == 0.0f) return sign;
  const auto exponent = static_cast<std::uint32_t>(static_cast<int>((bits >> 23) & 0xFFu) - 127 + 15);
  return static_cast<std::uint16_t>(sign | exponent << 10 | (bits & 0x7FFFFFu) >> 13);
}

struct Mask {
  MaskKind kind = MaskKind::none;
  MaskType type = MaskType::f32;
  std::size_t heads = 0, stride = 0;
  std::vector<float> f32;
  std::vector<std::uint16_t> f16;

  MaskView view(std::size_t rows, std::size_t cols) const {
    if (kind == MaskKind::none) return {};
    if (type == MaskType::f16) return mask_view(f16.data(), heads, rows, cols, stride);
    return mask_view(f32.data(), heads, rows, cols, stride);
  }
};

struct Case {
  Problem problem{Shape{}};
  CacheType cache = CacheType::f32;
  Layout layout = Layout::head_major;
  Mask mask;
  std::size_t calibration = 0;
  float beta = 0.4f, tau = 0.1f;
  std::size_t top_k = 1, slices = 1;
  KeepSink keep = KeepSink::first_candidate;
};

Shape read_shape(ByteStream& in) {
  Shape s;
  s.kv_heads = 1 + in.pick(3);
  s.q_heads = s.kv_heads * (1 + in.pick(3));
  s.q_len = in.pick(4) == 0 ? 1 : 1 + in.pick(24);  // one query: the decode kernel when unmasked
  s.kv_len = 1 + in.pick(48);
  s.dim = 1 + in.pick(24);
  return s;
}

AttentionOptions read_options(ByteStream& in, const Shape& s) {
  AttentionOptions o;
  o.masking = in.pick(3) == 0 ? Masking::none : Masking::causal;
  if (in.pick(3) == 0) o.valid_keys = in.pick(s.kv_len + 2);
  if (in.pick(3) == 0) o.query_position = in.pick(s.kv_len + 4);  // rejected without causal masking
  constexpr float scales[] = {0.0f, -0.5f, 2.0f, 0.03f};
  const std::size_t scale = in.pick(8);
  if (scale < 4 && scales[scale] != 0.0f) o.scale = scales[scale];
  o.threads = 1;
  return o;
}

// Random hidden cells (some rows hide every key) and small biases in eighths, exact in f16.
void read_mask(ByteStream& in, Case& c) {
  Mask& m = c.mask;
  const Shape& s = c.problem.shape;
  m.kind = static_cast<MaskKind>(in.pick(3));
  if (m.kind == MaskKind::none) return;
  m.type = in.pick(2) == 0 ? MaskType::f32 : MaskType::f16;
  m.heads = m.kind == MaskKind::shared ? 1 : s.q_heads;
  m.stride = s.kv_len + in.pick(4);
  const std::size_t hidden_percent = std::size_t{25} * in.pick(5), hidden_row_percent = 5 * in.pick(3);
  std::mt19937 rng(in.word());
  std::uniform_int_distribution<int> eighths(-16, 16), percent(0, 99);
  m.f32.assign(m.heads * s.q_len * m.stride, 0.0f);
  for (std::size_t row = 0; row < m.heads * s.q_len; ++row) {
    const bool row_hidden = static_cast<std::size_t>(percent(rng)) < hidden_row_percent;
    for (std::size_t j = 0; j < s.kv_len; ++j)
      m.f32[row * m.stride + j] = row_hidden || static_cast<std::size_t>(percent(rng)) < hidden_percent
                                      ? hidden_key
                                      : static_cast<float>(eighths(rng)) / 8.0f;
  }
}

void read_calibration(ByteStream& in, Case& c) {
  constexpr float betas[] = {0.4f, 0.0f, 0.25f, 1.0f};
  constexpr float taus[] = {0.1f, 0.02f, 0.3f, 0.6f};
  constexpr KeepSink keeps[] = {KeepSink::first_candidate, KeepSink::token_zero, KeepSink::none};
  c.calibration = in.pick(8);
  c.beta = betas[in.pick(4)];
  c.tau = taus[in.pick(4)];
  c.top_k = 1 + in.pick(3);
  c.keep = keeps[in.pick(3)];
  c.slices = 1 + in.pick(3);
}

// Special values anywhere in Q, K, V or the mask: infinities, NaN, huge scores, zero.
void plant_specials(ByteStream& in, Case& c) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  constexpr float specials[] = {inf, -inf, std::numeric_limits<float>::quiet_NaN(), 0.0f, 3.0e4f, -3.0e4f};
  const std::size_t count = in.pick(4);
  for (std::size_t n = 0; n < count; ++n) {
    std::vector<float>* targets[] = {&c.problem.q, &c.problem.k, &c.problem.v, &c.mask.f32};
    std::vector<float>& target = *targets[in.pick(4)];
    const std::size_t index = (std::size_t{in.next()} << 8 | in.next());
    const float value = specials[in.pick(6)];
    if (!target.empty()) target[index % target.size()] = value;
  }
}

Case read_case(ByteStream& in) {
  Case c;
  const Shape shape = read_shape(in);
  const AttentionOptions options = read_options(in, shape);
  constexpr float logit_scales[] = {1.0f, 0.25f, 4.0f, 30.0f};
  const float logit_scale = logit_scales[in.pick(4)];
  c.problem = random_problem(shape, options, in.word(), logit_scale);
  constexpr float strengths[] = {4.0f, 12.0f, 40.0f, 400.0f};  // 400: rest mass far below 1e-6
  std::vector<std::size_t> sinks(in.pick(4));
  for (std::size_t& column : sinks) column = in.pick(shape.kv_len);
  plant_sinks(c.problem, sinks, strengths[in.pick(4)]);
  c.cache = static_cast<CacheType>(in.pick(3));
  c.layout = static_cast<Layout>(in.pick(4));
  read_mask(in, c);
  read_calibration(in, c);
  plant_specials(in, c);
  for (std::vector<float>* cache : {&c.problem.k, &c.problem.v})
    for (float& x : *cache) x = truncate_to(c.cache, x);
  if (c.mask.type == MaskType::f16)
    for (float x : c.mask.f32) c.mask.f16.push_back(storage_bits(CacheType::f16, truncate_to(CacheType::f16, x)));
  c.problem.options.mask = c.mask.view(shape.q_len, shape.kv_len);
  return c;
}

// The case under test, described when a check fails.
const Case* current_case = nullptr;

void describe(const Case& c) {
  const Shape& s = c.problem.shape;
  const AttentionOptions& o = c.problem.options;
  std::fprintf(stderr,
               "case: q_heads %zu kv_heads %zu q_len %zu kv_len %zu dim %zu %s valid_keys %zu position %ld scale %g"
               " cache %d layout %d mask %d/%d calibration %zu beta %g tau %g top_k %zu keep %d slices %zu\n",
               s.q_heads, s.kv_heads, s.q_len, s.kv_len, s.dim, o.masking == Masking::causal ? "causal" : "none",
               std::min(o.valid_keys, s.kv_len), o.query_position ? static_cast<long>(*o.query_position) : -1L,
               static_cast<double>(o.scale.value_or(0.0f)), static_cast<int>(c.cache), static_cast<int>(c.layout),
               static_cast<int>(c.mask.kind), static_cast<int>(c.mask.type), c.calibration, static_cast<double>(c.beta),
               static_cast<double>(c.tau), c.top_k, static_cast<int>(c.keep), c.slices);
}

// A failed comparison describes the case and names the check before FUZZ_CHECK reports the condition.
#define DIFF_CHECK(what, condition)                                            \
  do {                                                                         \
    const bool diff_check_holds = (condition);                                 \
    if (!diff_check_holds && current_case != nullptr) describe(*current_case); \
    if (!diff_check_holds) std::fprintf(stderr, "%s: ", (what));               \
    FUZZ_CHECK(diff_check_holds&& #condition);                                 \
  } while (false)

template <class T>
T stored(CacheType type, float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    return T{storage_bits(type, x)};
  }
}

// The case's K and V in its cache type and layout, and the options that name V's layout; padded
// rows end in NaN cells no kernel may read.
template <class T>
struct CacheCopy {
  std::vector<T> k, v;
  HeadsView<const T> keys, values;
  AttentionOptions options;

  explicit CacheCopy(const Case& c) : options(c.problem.options) {
    const Shape& s = c.problem.shape;
    const std::size_t row = c.layout == Layout::padded ? s.dim + 3 : s.dim;
    const bool token_major = c.layout == Layout::token_major;
    const auto head_stride = static_cast<std::ptrdiff_t>(token_major ? s.dim : s.kv_len * row);
    const auto row_stride = static_cast<std::ptrdiff_t>(token_major ? s.kv_heads * s.dim : row);
    const T padding = stored<T>(c.cache, std::numeric_limits<float>::quiet_NaN());
    k.assign(s.kv_heads * s.kv_len * row, padding);
    keys = {k.data(), s.kv_heads, s.kv_len, s.dim, head_stride, row_stride};
    values = {nullptr, s.kv_heads, s.kv_len, s.dim, head_stride, row_stride};
    if (c.layout == Layout::transposed_values) {
      options.values = ValueLayout::transposed;
      const std::size_t cells = s.kv_len + 3;
      values = {nullptr,
                s.kv_heads,
                s.dim,
                s.kv_len,
                static_cast<std::ptrdiff_t>(s.dim * cells),
                static_cast<std::ptrdiff_t>(cells)};
      v.assign(s.kv_heads * s.dim * cells, padding);
    } else {
      v.assign(k.size(), padding);
    }
    values.data = v.data();
    for (std::size_t h = 0; h < s.kv_heads; ++h)
      for (std::size_t j = 0; j < s.kv_len; ++j)
        for (std::size_t col = 0; col < s.dim; ++col) {
          k[offset(keys, h, j, col)] = stored<T>(c.cache, c.problem.keys().row(h, j)[col]);
          const std::size_t at =
              options.values == ValueLayout::transposed ? offset(values, h, col, j) : offset(values, h, j, col);
          v[at] = stored<T>(c.cache, c.problem.values().row(h, j)[col]);
        }
  }

  static std::size_t offset(const HeadsView<const T>& view, std::size_t h, std::size_t i, std::size_t col) {
    return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(h) * view.head_stride +
                                    static_cast<std::ptrdiff_t>(i) * view.row_stride +
                                    static_cast<std::ptrdiff_t>(col));
  }
};

Result empty_result(const Problem& p) {
  return {std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads * p.shape.q_len), {}, {}, {}};
}

HeadsView<float> output_view(const Problem& p, Result& r) {
  return head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim);
}

// act::attention on the case's cache; nullopt when it rejects the call.
template <class T, class Cal>
std::optional<Result> run_cache(const Case& c, const Cal& calibration) {
  const Problem& p = c.problem;
  const CacheCopy<T> cache(c);
  Result r = empty_result(p);
  const AttentionExtras extras = extras_for(r, {}, p.shape.q_heads);
  try {
    r.report = attention(p.queries(), cache.keys, cache.values, output_view(p, r), cache.options, calibration, extras);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  return r;
}

// SlicedAttention, every slice of every phase in turn on this thread.
template <class T, class Cal>
Result run_sliced(const Case& c, const Cal& calibration) {
  const Problem& p = c.problem;
  const CacheCopy<T> cache(c);
  Result r = empty_result(p);
  const AttentionExtras extras = extras_for(r, {}, p.shape.q_heads);
  SlicedAttention<Cal, T> call(p.queries(), cache.keys, cache.values, output_view(p, r), cache.options, calibration,
                               extras, c.slices);
  for (std::size_t phase = 0; phase < call.phases(); ++phase)
    for (std::size_t ith = 0; ith < call.slices(); ++ith) DIFF_CHECK("sliced", call.run(phase, ith).ok());
  DIFF_CHECK("sliced", call.status().ok());
  r.report = call.report();
  return r;
}

// act::correct on the oracle's plain output and lse, rounded to float.
template <class T, class Cal>
Result run_correct(const Case& c, const Cal& calibration) {
  const Problem& p = c.problem;
  const CacheCopy<T> cache(c);
  Result given = run_reference(p, NoCalibration{});
  AttentionExtras extras;
  extras.sinks = &given.sinks;
  given.report = correct(p.queries(), cache.keys, cache.values, output_view(p, given), given.lse, cache.options,
                         calibration, extras);
  return given;
}

// Whether two sink sets of head `head` may legitimately differ: some column's mean is within float
// rounding of the detector's boundary (tau; for top-k a neighbouring mean, or a mean that
// underflows to 0). Inspects the whole head, so a tie at the first candidate that KeepSink drops
// (which shifts the rest of the set) counts too.
template <class Detector>
bool head_has_tie(const Problem& p, std::size_t head, const Detector& detector) {
  const std::vector<double> means = reference_column_means(p, head);
  const double tolerance = max_weight_error(p, head) + error_gamma(static_cast<double>(p.shape.q_len) + 16.0);
  if constexpr (std::is_same_v<Detector, ColumnMeanThreshold>) {
    return std::any_of(means.begin(), means.end(), [&](double mean) {
      return std::abs(mean - detector.tau) <= tolerance * std::max(static_cast<double>(detector.tau), 1e-30);
    });
  } else if constexpr (std::is_same_v<Detector, TopKColumns>) {
    std::vector<double> sorted = means;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    for (std::size_t j = 0; j < sorted.size(); ++j) {
      if (sorted[j] < 1e-30) return true;
      if (j > 0 && sorted[j - 1] - sorted[j] <= tolerance * sorted[j - 1]) return true;
    }
    return false;
  } else {
    return false;  // initial-token and never-detecting detectors have no tie
  }
}

// Rows whose reference output is +-inf through a key with a non-finite value and a weight so
// small that float32 may round it to 0 (0 * inf = NaN): the exact answer is out of float's reach.
bool underflow_ambiguous(const Problem& p, const reference::HeadMap& map, std::size_t head, std::size_t i) {
  const std::size_t kv_head = p.geometry().kv_head_of(head);
  const double allowance = std::exp(std::min(600.0, 2.0 * score_error(p, head, i, map.visible[i])));
  for (std::size_t j = 0; j < map.visible[i]; ++j) {
    if (!map.sees(i, j) || map.at(i, j) >= 1e-30 * allowance) continue;
    const float* value = p.values().row(kv_head, j);
    if (!std::all_of(value, value + p.shape.dim, [](float x) { return std::isfinite(x); })) return true;
  }
  return false;
}

struct Comparison {
  const char* what = "";
  bool row_counts = true;  // invalid and empty rows
  bool lse = true;
  BoundOptions bounds;
};

// Outputs within the error model's bounds of the oracle's (rows out of float's reach skipped).
template <class Rule>
std::size_t compare_rows(const Problem& p, const Rule& rule, const Result& actual, const Result& ref,
                         const Comparison& how) {
  const OutputBounds bounds = output_bounds(p, rule, ref.sinks, how.bounds);
  const std::size_t dim = p.shape.dim;
  for (std::size_t h = 0; h < p.shape.q_heads; ++h) {
    const reference::HeadMap map = reference_map(p, h);
    for (std::size_t i = 0; i < p.shape.q_len; ++i) {
      const std::size_t row = h * p.shape.q_len + i;
      if (map.takes_part(i) && underflow_ambiguous(p, map, h, i)) continue;
      for (std::size_t col = 0; col < dim; ++col) {
        const float got = actual.out[row * dim + col], want = ref.out[row * dim + col];
        if (!within_bound(got, want, bounds.row[row]))
          std::fprintf(stderr, "head %zu row %zu col %zu: %.9g, oracle %.9g, bound %.3g\n", h, i, col, got, want,
                       bounds.row[row]);
        DIFF_CHECK(how.what, within_bound(got, want, bounds.row[row]));
      }
    }
  }
  return bounds.ambiguous_rows;
}

template <class Cal>
void compare_with_oracle(const Problem& p, const Cal& calibration, const Result& actual, const Result& ref,
                         const Comparison& how) {
  if (how.row_counts) {
    DIFF_CHECK(how.what, actual.report.invalid_rows == ref.report.invalid_rows);
    DIFF_CHECK(how.what, actual.report.empty_rows == ref.report.empty_rows);
  }
  DIFF_CHECK(how.what, actual.sinks.size() == ref.sinks.size());
  for (std::size_t h = 0; h < ref.sinks.size(); ++h)
    if (actual.sinks[h] != ref.sinks[h]) {  // a tie changes the whole head: nothing else is comparable
      DIFF_CHECK(how.what, head_has_tie(p, h, calibration.detector));
      return;
    }
  DIFF_CHECK(how.what, actual.report.sinks_selected == ref.report.sinks_selected);
  if (compare_rows(p, calibration.rescaler, actual, ref, how) == 0) {
    DIFF_CHECK(how.what, actual.report.rows_calibrated == ref.report.rows_calibrated);
    DIFF_CHECK(how.what, actual.report.degenerate_rows == ref.report.degenerate_rows);
  }
  if (!how.lse) return;
  for (std::size_t h = 0; h < p.shape.q_heads; ++h)
    for (std::size_t i = 0; i < p.shape.q_len; ++i) {
      const std::size_t row = h * p.shape.q_len + i;
      DIFF_CHECK(how.what, lse_within_bound(p, h, i, actual.lse[row], ref.lse[row], how.bounds.exact_scores));
    }
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](float x, float y) {
    return std::bit_cast<std::uint32_t>(x) == std::bit_cast<std::uint32_t>(y) || (std::isnan(x) && std::isnan(y));
  });
}

// The column-statistics stage against the oracle's statistics of every head. Counts are exact
// unless a score error is so large (huge logits) that a row's validity itself is in doubt.
void check_column_statistics(const Case& c, const Result& plain) {
  const Problem& p = c.problem;
  const CacheCopy<float> cache(c);
  std::vector<float> out = plain.out;
  std::vector<ColumnStats> stats(p.shape.q_heads);
  column_statistics(p.queries(), cache.keys, cache.values,
                    head_major(out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), plain.lse, cache.options,
                    stats);
  DIFF_CHECK("column_statistics", bitwise_equal(out, plain.out));
  for (std::size_t h = 0; h < p.shape.q_heads; ++h) {
    const reference::HeadMap map = reference_map(p, h);
    const ColumnStats expected = reference::column_stats(map);
    double worst_score_error = 0.0;
    for (std::size_t i = 0; i < map.rows; ++i)
      worst_score_error = std::max(worst_score_error, score_error(p, h, i, map.visible[i]));
    if (worst_score_error > 1.0) continue;
    DIFF_CHECK("column_statistics", stats[h].seen_by == expected.seen_by);
    const double tolerance = max_weight_error(p, h) + error_gamma(static_cast<double>(p.shape.q_len) + 16.0);
    for (std::size_t j = 0; j < expected.size(); ++j)
      DIFF_CHECK("column_statistics",
                 std::abs(stats[h].received[j] - expected.received[j]) <= tolerance * expected.received[j] + 1e-30);
  }
}

// The oracle's map rounded to float, as an engine materialises it: invalid rows hold NaN, rows
// that take no part see nothing; plus the matching additive mask and the oracle's input.
struct FloatMap {
  std::vector<float> weights, mask;
  std::vector<reference::HeadMap> oracle;

  explicit FloatMap(const Problem& p) {
    const Shape& s = p.shape;
    weights.assign(s.q_heads * s.q_len * s.kv_len, 0.0f);
    mask.assign(weights.size(), hidden_key);
    for (std::size_t h = 0; h < s.q_heads; ++h) {
      reference::HeadMap map = reference_map(p, h);
      for (std::size_t i = 0; i < s.q_len; ++i) {
        const bool invalid = map.invalid[i];
        for (std::size_t j = 0; j < map.visible[i]; ++j) {
          if (!map.sees(i, j)) continue;
          const std::size_t cell = (h * s.q_len + i) * s.kv_len + j;
          mask[cell] = 0.0f;
          weights[cell] = invalid ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(map.at(i, j));
          map.at(i, j) = weights[cell];
        }
      }
      oracle.push_back(std::move(map));
    }
  }
};

template <class Cal>
void check_map_calibration(const Case& c, const Cal& calibration) {
  const Shape& s = c.problem.shape;
  FloatMap engine(c.problem);
  std::vector<SinkSet> sinks;
  AttentionExtras extras;
  extras.sinks = &sinks;
  const CalibrationReport report =
      calibrate_map(head_major(engine.weights.data(), s.q_heads, s.q_len, s.kv_len), calibration,
                    AdditiveMask{head_major<const float>(engine.mask.data(), s.q_heads, s.q_len, s.kv_len)}, extras);
  CalibrationReport expected;
  for (std::size_t h = 0; h < s.q_heads; ++h) {
    reference::HeadMap& map = engine.oracle[h];
    SinkSet oracle_sinks;
    expected += reference::calibrate(map, calibration, oracle_sinks);
    DIFF_CHECK("calibrate_map", sinks[h] == oracle_sinks);  // same float weights summed alike: exact
    for (std::size_t i = 0; i < s.q_len; ++i) {
      if (!map.takes_part(i)) continue;
      for (std::size_t j = 0; j < map.visible[i]; ++j) {
        // One rounding to float: u relative, or half the smallest subnormal (2^-150) absolute.
        const double got = engine.weights[(h * s.q_len + i) * s.kv_len + j], want = map.at(i, j);
        const bool close = std::abs(got - want) <= unit_roundoff * std::abs(want) + 0x1p-150;
        if (!close) std::fprintf(stderr, "head %zu row %zu col %zu: %.9g, oracle %.9g\n", h, i, j, got, want);
        DIFF_CHECK("calibrate_map", close);
      }
    }
  }
  DIFF_CHECK("calibrate_map", report.sinks_selected == expected.sinks_selected);
  DIFF_CHECK("calibrate_map", report.rows_calibrated == expected.rows_calibrated);
  DIFF_CHECK("calibrate_map", report.degenerate_rows == expected.degenerate_rows);
}

bool same_result(const std::optional<Result>& a, const Result& b) {
  return a && bitwise_equal(a->out, b.out) && bitwise_equal(a->lse, b.lse) && a->sinks == b.sinks &&
         a->report == b.report;
}

// A 16-bit cache widens exactly: every kernel gives bitwise its float32 result.
template <class T, class Cal>
void check_narrow(const Case& c, const Cal& calibration, const Result& wide, const Result& sliced,
                  const Result& corrected) {
  DIFF_CHECK("16-bit attention", same_result(run_cache<T>(c, calibration), wide));
  DIFF_CHECK("16-bit sliced", same_result(run_sliced<T>(c, calibration), sliced));
  DIFF_CHECK("16-bit correct", same_result(run_correct<T>(c, calibration), corrected));
}

// Every kernel of the case against the oracle, for one calibration.
template <class Cal>
void check_calibration(const Case& c, const Cal& calibration) {
  const Problem& p = c.problem;
  std::optional<Result> ref;
  try {
    ref = run_reference(p, calibration);
  } catch (const std::invalid_argument&) {}
  const std::optional<Result> wide = run_cache<float>(c, calibration);
  DIFF_CHECK("shape checks", wide.has_value() == ref.has_value());
  if (!ref) return;
  compare_with_oracle(p, calibration, *wide, *ref, {"attention", true, true, {}});
  const Result sliced = run_sliced<float>(c, calibration);
  compare_with_oracle(p, calibration, sliced, *ref, {"sliced", true, true, {}});
  // The given O is rounded to float: one more weight error u (as in correct_test.cpp).
  const Result corrected = run_correct<float>(c, calibration);
  compare_with_oracle(p, calibration, corrected, *ref, {"correct", false, false, {false, unit_roundoff}});
  const Result plain = run_reference(p, NoCalibration{});
  check_column_statistics(c, plain);
  check_map_calibration(c, calibration);
  if (c.cache == CacheType::f16) check_narrow<Half>(c, calibration, *wide, sliced, corrected);
  if (c.cache == CacheType::bf16) check_narrow<BFloat16>(c, calibration, *wide, sliced, corrected);
}

void check_case(const Case& c) {
  switch (c.calibration) {
    case 0: return check_calibration(c, NoCalibration{});
    case 1: return check_calibration(c, Calibration{ColumnMeanThreshold(c.tau, c.keep), Redistribute(c.beta)});
    case 2: return check_calibration(c, Calibration{ColumnMeanThreshold(c.tau, c.keep), ScaleOnly(c.beta)});
    case 3: return check_calibration(c, Calibration{TopKColumns(c.top_k, c.keep), Redistribute(c.beta)});
    case 4: return check_calibration(c, Calibration{InitialToken{}, ScaleOnly(c.beta)});
    case 5: return check_calibration(c, Calibration{InitialToken{}, Redistribute(c.beta)});
    case 6: return check_calibration(c, Calibration{ColumnMeanThreshold(c.tau, c.keep), Identity{}});
    default: return check_calibration(c, paper_calibration(c.beta, c.tau));
  }
}

}  // namespace

#ifndef main_guard
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteStream in(data, size);
  const Case c = read_case(in);
  current_case = &c;
  check_case(c);
  return 0;
}
#endif
