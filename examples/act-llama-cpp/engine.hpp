#pragma once
// llama.cpp through its public C API (llama.h), with ACT applied by ActHook: a model and one
// context that decodes a single sequence from an empty cache and hands back the logits asked for.
// ACT needs the materialised softmax map: flash attention stays off whenever a head set is given.
#include "act_hook.hpp"

#include <act/core/error.hpp>

#include <llama.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace act_llama_cpp {

enum class FlashAttention { off, on };

struct EngineOptions {
  std::filesystem::path model;
  act::model::ActSettings act;
  std::size_t context = 2048;  // cache cells; prompts up to this length
  std::size_t ubatch = 0;      // tokens per llama.cpp ubatch (0: the whole context, prompts in one map)
  int threads = 1;
  bool verbose = false;  // llama.cpp's own log on stderr
  // on keeps no softmax map, so it is refused with a head set: there is no ACT route through it.
  FlashAttention flash_attention = FlashAttention::off;
};

namespace detail {

// llama.cpp logs a lot on stderr; keep its errors unless asked for everything.
inline void log_filter(ggml_log_level level, const char* text, void* verbose) {
  if (*static_cast<bool*>(verbose) || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

struct ModelFree {
  void operator()(llama_model* m) const noexcept { llama_model_free(m); }
};
struct ContextFree {
  void operator()(llama_context* c) const noexcept { llama_free(c); }
};

}  // namespace detail

class Engine {
 public:
  explicit Engine(EngineOptions options) : options_(std::move(options)) {
    if (!std::filesystem::is_regular_file(options_.model))
      throw act::Error("model file not found or not a regular file: " + options_.model.string());
    if (options_.flash_attention == FlashAttention::on && options_.act.enabled())
      throw act::UnsupportedError(
          "flash attention keeps no softmax map and act-llama-cpp has no other ACT route: "
          "use --flash-attn off with --act-heads");
    llama_log_set(detail::log_filter, &options_.verbose);
    llama_backend_init();
    llama_model_params model_params = llama_model_default_params();
    model_params.n_gpu_layers = 0;
    model_.reset(llama_model_load_from_file(options_.model.c_str(), model_params));
    if (!model_) throw act::FormatError("llama.cpp could not load " + options_.model.string());
    hook_.emplace(options_.act, static_cast<std::size_t>(llama_model_n_layer(model_.get())),
                  static_cast<std::size_t>(llama_model_n_head(model_.get())));
    context_.reset(llama_init_from_model(model_.get(), context_params()));
    if (!context_)
      throw act::Error("llama.cpp could not create a context of " + std::to_string(options_.context) + " cells");
  }

  // The context keeps a pointer to hook_: an Engine stays where it was built.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  std::size_t vocab_size() const {
    return static_cast<std::size_t>(llama_vocab_n_tokens(llama_model_get_vocab(model_.get())));
  }
  std::size_t layers() const { return static_cast<std::size_t>(llama_model_n_layer(model_.get())); }
  std::size_t heads() const { return static_cast<std::size_t>(llama_model_n_head(model_.get())); }
  const ActHook& hook() const { return *hook_; }
  // `inspector` sees every calibrated map before and after calibration; it must outlive the engine.
  void inspect_maps(MapInspector& inspector) { hook_->inspect_with(inspector); }

  // Empties the cache: the next tokens start a new sequence at position 0.
  void start_sequence() {
    llama_memory_clear(llama_get_memory(context_.get()), true);
    hook_->reset();
    position_ = 0;
  }

  // Appends `tokens` to the sequence; returns the logits of the rows [first, first + count) of
  // this call, row-major [count, vocab].
  std::vector<float> decode(std::span<const std::int32_t> tokens, std::size_t first, std::size_t count) {
    if (tokens.empty() || first + count > tokens.size()) throw std::invalid_argument("act-llama-cpp: bad logits rows");
    if (position_ + tokens.size() > options_.context)
      throw act::Error("sequence of " + std::to_string(position_ + tokens.size()) + " tokens exceeds the context of " +
                       std::to_string(options_.context) + " (raise --ctx)");
    Batch batch(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i)
      batch.add(tokens[i], position_ + i, i >= first && i < first + count);
    const int status = llama_decode(context_.get(), batch.get());
    if (status != 0) throw act::Error("llama_decode failed with status " + std::to_string(status));
    hook_->finish_decode();
    position_ += tokens.size();
    std::vector<float> logits;
    logits.reserve(count * vocab_size());
    for (std::size_t i = 0; i < count; ++i) {
      const float* row = llama_get_logits_ith(context_.get(), static_cast<std::int32_t>(first + i));
      if (row == nullptr) throw act::Error("llama.cpp returned no logits for row " + std::to_string(first + i));
      logits.insert(logits.end(), row, row + vocab_size());
    }
    return logits;
  }

  // The logits of rows [first, first + count) of `tokens` as a whole new sequence.
  std::vector<float> sequence_logits(std::span<const std::int32_t> tokens, std::size_t first, std::size_t count) {
    start_sequence();
    return decode(tokens, first, count);
  }

 private:
  // A llama_batch of one sequence, freed on scope exit.
  class Batch {
   public:
    explicit Batch(std::size_t capacity) : batch_(llama_batch_init(static_cast<std::int32_t>(capacity), 0, 1)) {}
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    ~Batch() { llama_batch_free(batch_); }
    void add(std::int32_t token, std::size_t position, bool wants_logits) {
      const auto i = batch_.n_tokens++;
      batch_.token[i] = token;
      batch_.pos[i] = static_cast<llama_pos>(position);
      batch_.n_seq_id[i] = 1;
      batch_.seq_id[i][0] = 0;
      batch_.logits[i] = wants_logits ? 1 : 0;
    }
    llama_batch get() const { return batch_; }

   private:
    llama_batch batch_;
  };

  llama_context_params context_params() {
    llama_context_params params = llama_context_default_params();
    params.n_ctx = static_cast<std::uint32_t>(options_.context);
    params.n_batch = params.n_ctx;
    params.n_ubatch = static_cast<std::uint32_t>(options_.ubatch == 0 ? options_.context : options_.ubatch);
    params.n_seq_max = 1;
    params.n_threads = params.n_threads_batch = options_.threads;
    params.flash_attn_type =
        options_.flash_attention == FlashAttention::on ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    params.no_perf = true;
    if (hook_->enabled()) {
      params.cb_eval = &ActHook::callback;
      params.cb_eval_user_data = &*hook_;
    }
    return params;
  }

  EngineOptions options_;
  std::unique_ptr<llama_model, detail::ModelFree> model_;
  std::optional<ActHook> hook_;
  std::unique_ptr<llama_context, detail::ContextFree> context_;
  std::size_t position_ = 0;
};

// The token with the largest logit (the first of equals).
inline std::int32_t greedy(const std::vector<float>& logits) {
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

}  // namespace act_llama_cpp
