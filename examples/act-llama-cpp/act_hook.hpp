#pragma once
// ACT inside an unpatched llama.cpp: a graph-evaluation callback (cb_eval in llama_context_params)
// that calibrates the chosen heads of each layer's softmax map in place, after llama.cpp computes
// it and before llama.cpp multiplies it by V.
//
// What the callback relies on (llama.cpp of llama-cpp-python 0.3.36, flash attention off): each
// layer's map is the node named exactly "kq_soft_max-<layer>", f32, ne = [n_kv, n_tokens, n_head, 1]
// with n_kv cache cells (padded; padding masked), and its src[1] is the additive f32 mask
// [n_kv, n_tokens, 1, 1] (-inf = masked). Columns are cache cells: with one sequence decoded from
// an empty cache, cell j holds position j, so the statistics line up with act-llama's. Statistics
// run over every query of the sequence so far (act::SinkState): a prompt in one ubatch gets
// act-llama's prefill semantics, a prompt in several ubatches and each decode step the running
// semantics of act-llama's decode.
//
// The callback never throws into llama.cpp (C frames): a failure is stored, the map is left as
// it is, and LlamaCppEngine rethrows it after llama_decode returns.
#include <act/kernels/map_calibration.hpp>
#include <act/kernels/sink_state.hpp>
#include <act/model/act_settings.hpp>

#include <ggml-backend.h>
#include <ggml.h>

#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace act_llama_cpp {

// Sees each calibrated map just before and just after ActHook calibrates it in place (the oracle
// check of act-llama-cpp check-maps). The views are valid only during the call.
class MapInspector {
 public:
  virtual ~MapInspector() = default;
  virtual void before(const act::HeadsView<float>& map, const act::AdditiveMask& mask, std::size_t layer) = 0;
  virtual void after(const act::HeadsView<float>& map, std::size_t layer) = 0;
};

// What ActHook uses until inspect_with() is called: nothing is looked at.
class NoInspection final : public MapInspector {
 public:
  void before(const act::HeadsView<float>&, const act::AdditiveMask&, std::size_t) override {}
  void after(const act::HeadsView<float>&, std::size_t) override {}
};

// One stateless instance serves every hook.
inline MapInspector& no_inspection() {
  static NoInspection none;
  return none;
}

class ActHook {
 public:
  // Throws act::FormatError when the head set names a head outside the model, act::UnsupportedError
  // when it gives heads a factor of their own (this hook calibrates a layer with one policy).
  ActHook(act::model::ActSettings settings, std::size_t layers, std::size_t heads)
      : settings_(std::move(settings)), masks_(settings_.layer_masks(layers, heads)), heads_(heads) {
    if (!settings_.heads().factors().empty())
      throw act::UnsupportedError("act-llama-cpp does not apply a factor per head (the head set has " +
                                  std::to_string(settings_.heads().factors().size()) + "); use act-llama");
    for (std::size_t layer = 0; layer < layers; ++layer) {
      states_.emplace_back(heads);  // a layer without calibrated heads never adds to it
      names_.push_back(masks_[layer].empty() ? std::string() : "kq_soft_max-" + std::to_string(layer));
    }
    seen_in_decode_.assign(layers, false);
  }

  // The cb_eval function; user_data is the ActHook.
  static bool callback(ggml_tensor* tensor, bool ask, void* user_data) {
    auto& hook = *static_cast<ActHook*>(user_data);
    const int layer = hook.calibrated_layer(tensor->name);
    if (ask) return layer >= 0;
    if (layer >= 0 && !hook.error_) {
      try {
        hook.calibrate(*tensor, static_cast<std::size_t>(layer));
      } catch (...) {
        hook.error_ = std::current_exception();
      }
    }
    return true;  // false would stop the rest of the graph split
  }

  // A new sequence starts at cache cell 0: forget the running statistics.
  void reset() {
    for (act::SinkState& state : states_) state.reset();
  }

  // After one llama_decode: rethrows a failure of the callback, and fails when a calibrated layer's
  // map never came by (flash attention on, or a graph whose attention this hook cannot read).
  void finish_decode() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    for (std::size_t layer = 0; layer < names_.size(); ++layer) {
      if (!names_[layer].empty() && !seen_in_decode_[layer])
        throw act::UnsupportedError("llama.cpp computed no node named " + names_[layer] +
                                    ": ACT needs the materialised softmax map (flash attention off, standard "
                                    "attention graph); the head set cannot be applied to this model");
    }
    seen_in_decode_.assign(names_.size(), false);
  }

  const act::CalibrationReport& report() const noexcept { return report_; }
  bool enabled() const noexcept { return settings_.enabled(); }

  // `inspector` sees every calibrated map from now on; it must outlive the hook's use.
  void inspect_with(MapInspector& inspector) noexcept { inspector_ = &inspector; }

 private:
  // The layer whose calibrated map this node is, or -1. Names are compared whole: kq_soft_max-1
  // is a prefix of kq_soft_max-10.
  int calibrated_layer(const char* name) const {
    for (std::size_t layer = 0; layer < names_.size(); ++layer)
      if (!names_[layer].empty() && names_[layer] == name) return static_cast<int>(layer);
    return -1;
  }

  static std::size_t float_stride(const ggml_tensor& t, int dim) {
    if (t.nb[dim] % sizeof(float) != 0)
      throw act::UnsupportedError(std::string("tensor ") + t.name +
                                  " has a stride that is not a whole number of floats");
    return t.nb[dim] / sizeof(float);
  }

  // The map as [n_head, n_tokens, n_kv] after checking that it is what the header comment says.
  act::HeadsView<float> map_view(ggml_tensor& t) const {
    if (t.type != GGML_TYPE_F32 || t.nb[0] != sizeof(float) || t.ne[3] != 1 ||
        t.ne[2] != static_cast<std::int64_t>(heads_) || t.buffer == nullptr || !ggml_backend_buffer_is_host(t.buffer))
      throw act::UnsupportedError(
          std::string("cannot read the attention map ") + t.name + " (type " + ggml_type_name(t.type) + ", ne = [" +
          std::to_string(t.ne[0]) + ", " + std::to_string(t.ne[1]) + ", " + std::to_string(t.ne[2]) + ", " +
          std::to_string(t.ne[3]) + "]): expected host f32 [n_kv, n_tokens, " + std::to_string(heads_) + ", 1]");
    if (t.src[2] != nullptr)
      throw act::UnsupportedError(std::string(t.name) +
                                  " has learned attention sinks; ACT is not defined for them here");
    return {static_cast<float*>(t.data),
            heads_,
            static_cast<std::size_t>(t.ne[1]),
            static_cast<std::size_t>(t.ne[0]),
            static_cast<std::ptrdiff_t>(float_stride(t, 2)),
            static_cast<std::ptrdiff_t>(float_stride(t, 1))};
  }

  static act::AdditiveMask mask_of(const ggml_tensor& t) {
    const ggml_tensor* m = t.src[1];
    if (m == nullptr || m->type != GGML_TYPE_F32 || m->nb[0] != sizeof(float) || m->ne[0] != t.ne[0] ||
        m->ne[1] < t.ne[1] || m->ne[2] != 1 || m->ne[3] != 1 || m->buffer == nullptr ||
        !ggml_backend_buffer_is_host(m->buffer))
      throw act::UnsupportedError(std::string("cannot read the attention mask of ") + t.name +
                                  ": expected a host f32 [n_kv, n_tokens, 1, 1] tensor as the softmax's second source");
    return {{static_cast<const float*>(m->data), 1, static_cast<std::size_t>(m->ne[1]),
             static_cast<std::size_t>(m->ne[0]), static_cast<std::ptrdiff_t>(float_stride(*m, 2)),
             static_cast<std::ptrdiff_t>(float_stride(*m, 1))}};
  }

  void calibrate(ggml_tensor& t, std::size_t layer) {
    seen_in_decode_[layer] = true;
    act::AttentionExtras extras;
    extras.calibrated_heads = masks_[layer];
    extras.running_stats = states_[layer].span();
    const act::HeadsView<float> map = map_view(t);
    const act::AdditiveMask mask = mask_of(t);
    inspector_->before(map, mask, layer);
    report_ += settings_.calibration().visit(
        [&](const auto& calibration) { return act::calibrate_map(map, calibration, mask, extras); });
    inspector_->after(map, layer);
  }

  act::model::ActSettings settings_;
  std::vector<std::vector<std::uint8_t>> masks_;  // per layer; empty = layer not calibrated
  std::size_t heads_;
  std::vector<act::SinkState> states_;
  std::vector<std::string> names_;  // per layer: its map's node name, empty when not calibrated
  std::vector<bool> seen_in_decode_;
  std::exception_ptr error_;
  act::CalibrationReport report_;
  MapInspector* inspector_ = &no_inspection();
};

}  // namespace act_llama_cpp
