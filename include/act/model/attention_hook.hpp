#pragma once
// What a transformer layer asks of its attention: the model calls one AttentionHook per layer, so
// the policy behind it is type-erased at the layer boundary while the kernels stay templates.
// - PlainAttention: no head calibrated.
// - CalibratingAttention: the heads of a mask calibrated with any AnyCalibration, and heads with
//   a policy of their own (prefill, or decode with running column statistics per layer).
// - SinkObserver: every head's sinks under any detector, output unchanged (identity rescale).
#include <act/core/attention_options.hpp>
#include <act/core/calibration_report.hpp>
#include <act/core/column_stats.hpp>
#include <act/core/heads_view.hpp>
#include <act/heads/head_set.hpp>
#include <act/kernels/fused_attention.hpp>
#include <act/kernels/sink_state.hpp>
#include <act/model/act_settings.hpp>
#include <act/model/kv_cache.hpp>
#include <act/policies/identity.hpp>
#include <act/policies/registry.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

namespace act::model {

// One layer's attention operands (the new tokens' queries against every cached key, stored in the
// model's KV type).
struct LayerAttention {
  std::size_t layer = 0;
  HeadsView<const float> q;
  AnyKvViews kv;
  HeadsView<float> out;
  int threads = 1;
  ProductPrecision products = ProductPrecision::fp32;
};

class AttentionHook {
 public:
  virtual ~AttentionHook() = default;
  // Not const: a hook may collect what it sees (SinkObserver) or update running statistics.
  virtual CalibrationReport attend(const LayerAttention& call) = 0;

 protected:
  // The one place the model calls an attention kernel.
  template <class Cal>
  static CalibrationReport run(const LayerAttention& call, const Cal& calibration, const AttentionExtras& extras) {
    AttentionOptions options;
    options.threads = call.threads;
    options.products = call.products;
    return std::visit(
        [&](const auto& kv) {
          return act::attention(call.q, kv.keys, kv.values, call.out, options, calibration, extras);
        },
        call.kv);
  }
};

class PlainAttention final : public AttentionHook {
 public:
  CalibrationReport attend(const LayerAttention& call) override { return run(call, NoCalibration{}, {}); }
};

// What observe_sinks found for one head: its sink set (the detector's choice) and the mean
// attention each key column received from the queries that saw it.
struct HeadSinks {
  HeadId id;
  SinkSet sinks;
  std::vector<float> column_means;
};

class CalibratingAttention final : public AttentionHook {
 public:
  // layers[l]: what layer l calibrates (ActSettings::layer_calibrations); a layer past the end is
  // plain. `running` (decode): one SinkState per layer, updated in place; empty: prefill semantics.
  CalibratingAttention(std::vector<LayerCalibration> layers, AnyCalibration calibration,
                       std::span<SinkState> running = {})
      : layers_(std::move(layers)), calibration_(std::move(calibration)), running_(running) {}

  // The heads with their own policy run after the layer's call, one head each: the first call
  // leaves them plain and the second overwrites their output.
  CalibrationReport attend(const LayerAttention& call) override {
    if (call.layer >= layers_.size()) return run(call, NoCalibration{}, {});
    const LayerCalibration& plan = layers_[call.layer];
    CalibrationReport report;
    if (plan.shared_mask.empty()) {
      report = run(call, NoCalibration{}, {});
    } else {
      AttentionExtras extras;
      extras.calibrated_heads = plan.shared_mask;
      if (!running_.empty()) extras.running_stats = running_[call.layer].span();
      report = calibration_.visit([&](const auto& calibration) { return run(call, calibration, extras); });
    }
    for (const HeadCalibration& own : plan.own) report += attend_one(call, own);
    return report;
  }

 private:
  CalibrationReport attend_one(const LayerAttention& call, const HeadCalibration& own) const {
    const auto one = [](auto view, std::size_t head) {
      view.data = view.row(head, 0);
      view.heads = 1;
      return view;
    };
    const std::size_t h = own.head;
    const AnyKvViews kv = std::visit(
        [&](const auto& views) -> AnyKvViews {
          const std::size_t kv_head = h / (call.q.heads / views.keys.heads);
          return std::decay_t<decltype(views)>{one(views.keys, kv_head), one(views.values, kv_head)};
        },
        call.kv);
    const LayerAttention slice{call.layer, one(call.q, h), kv, one(call.out, h), call.threads, call.products};
    AttentionExtras extras;
    if (!running_.empty()) extras.running_stats = running_[call.layer].span().subspan(h, 1);
    return own.calibration.visit([&](const auto& calibration) { return run(slice, calibration, extras); });
  }

  std::vector<LayerCalibration> layers_;
  AnyCalibration calibration_;
  std::span<SinkState> running_;
};

class SinkObserver final : public AttentionHook {
 public:
  explicit SinkObserver(AnyDetector detector) : detector_(std::move(detector)) {}

  CalibrationReport attend(const LayerAttention& call) override {
    std::vector<ColumnStats> stats(call.q.heads);
    std::vector<SinkSet> sinks;
    AttentionExtras extras;
    extras.running_stats = stats;
    extras.sinks = &sinks;
    const CalibrationReport report = std::visit(
        [&](const auto& d) {
          return run(call, Calibration{d, Identity{}}, extras);
        },
        detector_);
    for (std::size_t h = 0; h < call.q.heads; ++h) {
      HeadSinks found{{static_cast<std::uint32_t>(call.layer), static_cast<std::uint32_t>(h)}, sinks[h], {}};
      for (std::size_t j = 0; j < stats[h].size(); ++j) found.column_means.push_back(stats[h].view().mean(j));
      observed_.push_back(std::move(found));
    }
    return report;
  }

  // Every head of every layer run so far, by (layer, head).
  std::vector<HeadSinks> take() { return std::move(observed_); }

 private:
  AnyDetector detector_;
  std::vector<HeadSinks> observed_;
};

}  // namespace act::model
