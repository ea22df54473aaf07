#pragma once
// One conversation with a LlamaModel: a KV cache for up to `context` tokens, ACT settings, and one
// act::SinkState per layer (running column statistics), so that calibrated heads choose their
// sinks during decode from all the attention the cached keys have received so far (spec section 4).
#include <act/model/kv_cache.hpp>
#include <act/model/llama_model.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

namespace act::model {

struct SessionOptions {
  std::size_t context = 0;  // tokens the KV cache holds; 0: the model's context length
  int threads = 1;
  ActSettings act;
};

class Session {
 public:
  // Throws std::invalid_argument for a context above the model's or threads < 1, and
  // act::FormatError if the head set names heads the model does not have.
  Session(const LlamaModel& model, SessionOptions options)
      : model_(model),
        threads_(options.threads),
        act_(std::move(options.act)),
        cache_(model.config().layers, model.config().usable_context(options.context), model.config().kv_heads,
               model.config().head_dim(), model.kv_type()),
        running_(model.config().layers, SinkState(model.config().heads)),
        hook_(act_.layer_calibrations(model.config().layers, model.config().heads), act_.calibration(), running_) {
    if (threads_ < 1) throw std::invalid_argument("threads must be at least 1 (got " + std::to_string(threads_) + ")");
  }
  Session(const Session&) = delete;  // hook_ points into this object

  // Appends `tokens` (at least one) to the context and returns the logits [vocab] of the last one.
  // Throws ContextOverflow when they do not fit (the session is left unchanged).
  std::vector<float> prefill(std::span<const std::int32_t> tokens) {
    if (tokens.empty()) throw std::invalid_argument("prefill needs at least one token");
    cache_.check_room(tokens.size());
    Activations hidden = model_.embed(tokens);
    const std::size_t n = tokens.size();
    detail::Workspace work(model_.config(), n);
    const RotaryAngles angles(model_.config().rope_dim, model_.config().rope_base, cache_.size(), n);
    for (std::size_t layer = 0; layer < model_.config().layers; ++layer)
      report_ += model_.run_layer(layer, hidden, angles, {cache_, layer}, work, hook_, threads_);
    cache_.commit(n);
    return std::move(model_.logits(hidden, n - 1, 1, threads_).data);
  }

  // One more token; returns its logits [vocab].
  std::vector<float> decode(std::int32_t token) { return prefill(std::span<const std::int32_t>(&token, 1)); }

  // Empties the context and the running statistics; settings are kept.
  void reset() {
    cache_.clear();
    for (SinkState& layer : running_) layer.reset();
    report_ = {};
  }

  std::size_t position() const noexcept { return cache_.size(); }  // tokens in the context
  std::size_t context() const noexcept { return cache_.capacity(); }
  int threads() const noexcept { return threads_; }
  // Bytes of KV cache one token of context occupies (every layer's keys and values).
  std::size_t kv_bytes_per_token() const noexcept {
    return cache_.bytes_per_token_and_layer() * model_.config().layers;
  }
  const ActSettings& act() const noexcept { return act_; }
  // What the calibrating kernels reported since the last reset.
  const CalibrationReport& report() const noexcept { return report_; }
  const LlamaModel& model() const noexcept { return model_; }

 private:
  const LlamaModel& model_;
  int threads_;
  ActSettings act_;
  KvCache cache_;
  std::vector<SinkState> running_;  // one per layer
  CalibratingAttention hook_;       // calibrates with running_, so declared after it
  CalibrationReport report_;
};

}  // namespace act::model
