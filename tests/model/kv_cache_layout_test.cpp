// The KV cache's head-major layout: each KV head's rows are contiguous, and attention over the
// cache (plain, ACT with running statistics, a head with its own policy) gives bit for bit the
// output that the same keys and values stored token-major give, appended as a session does (a
// prefill chunk, then one token at a time). The kernels read both through a strided HeadsView, so
// the layout changes where rows live, never which products are summed or in what order.
#include "random_weights.hpp"
#include "same_bits.hpp"

#include <act/kernels/sink_state.hpp>
#include <act/model/attention_hook.hpp>
#include <act/model/kv_cache.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <span>
#include <vector>

using namespace act::model;
using act::testing::random_floats;
using act::testing::same_bits;

namespace {

// SmolLM2-135M's attention shape: 9 query heads over 3 KV heads of 64.
constexpr std::size_t heads = 9, kv_heads = 3, head_dim = 64, kv_dim = kv_heads * head_dim;
constexpr std::size_t layers = 2, layer = 1, capacity = 80, prefill_tokens = 40, total_tokens = 56;

// Heads 0, 4 and 8 share the paper's policy, head 5 has its own; decode keeps running statistics.
class Attention {
 public:
  Attention()
      : running_(layers, act::SinkState(heads)),
        hook_({{}, {{1, 0, 0, 0, 1, 0, 0, 0, 1}, {{5, act::AnyCalibration::initial_token_scaling(0.5f)}}}},
              act::AnyCalibration::paper(), running_) {}

  // The output [new, heads, head_dim] of `new_tokens` queries against the first `tokens` keys.
  std::vector<float> attend(std::span<const float> queries, std::size_t new_tokens, AnyKvViews kv) {
    std::vector<float> out(new_tokens * heads * head_dim);
    report_ += hook_.attend({layer, act::token_major(queries.data(), heads, new_tokens, head_dim), kv,
                             act::token_major(out.data(), heads, new_tokens, head_dim), 1});
    return out;
  }
  const act::CalibrationReport& report() const noexcept { return report_; }

 private:
  std::vector<act::SinkState> running_;
  CalibratingAttention hook_;
  act::CalibrationReport report_;
};

template <class Element>
void check_layouts_agree(KvType type) {
  std::vector<float> keys = random_floats(total_tokens * kv_dim, 1);
  const std::vector<float> values = random_floats(total_tokens * kv_dim, 2),
                           queries = random_floats(total_tokens * heads * head_dim, 3);
  for (std::size_t c = 0; c < kv_dim; ++c) keys[c] *= 6.0f;   // a strong first key: the calibrated heads find a sink
  std::vector<Element> token_major_keys, token_major_values;  // the reference: rounded alike, [tokens][kv_dim]
  for (std::size_t i = 0; i < keys.size(); ++i) {
    token_major_keys.push_back(act::from_float<Element>(keys[i]));
    token_major_values.push_back(act::from_float<Element>(values[i]));
  }
  KvCache cache(layers, capacity, kv_heads, head_dim, type);
  Attention cached, reference;
  for (std::size_t start = 0, count = prefill_tokens; start < total_tokens; start += count, count = 1) {
    CAPTURE(start, count);
    cache.store(layer, start, keys.data() + start * kv_dim, values.data() + start * kv_dim, count);
    cache.commit(count);
    const auto views = std::get<KvViews<Element>>(cache.views(layer, start + count));
    REQUIRE(views.keys.row(1, 1) == views.keys.row(1, 0) + head_dim);  // one head's rows are contiguous
    REQUIRE(views.values.row(2, 0) == views.values.row(1, 0) + capacity * head_dim);
    const KvViews<Element> token_major{
        act::token_major<const Element>(token_major_keys.data(), kv_heads, start + count, head_dim),
        act::token_major<const Element>(token_major_values.data(), kv_heads, start + count, head_dim)};
    const auto step_queries = std::span(queries).subspan(start * heads * head_dim, count * heads * head_dim);
    REQUIRE(same_bits(cached.attend(step_queries, count, views), reference.attend(step_queries, count, token_major)));
  }
  CHECK(cached.report().rows_calibrated > 0);  // the comparison covered calibrated rows
  CHECK(cached.report() == reference.report());
}

}  // namespace

TEST_CASE("KvCache is head-major: attention over it equals a token-major copy bit for bit", "[model][kv]") {
  check_layouts_agree<float>(KvType::f32);
  check_layouts_agree<act::Half>(KvType::f16);
  check_layouts_agree<act::BFloat16>(KvType::bf16);
}
