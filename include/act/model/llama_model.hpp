#pragma once
// A llama-architecture model loaded from GGUF: configuration, weights (mostly left in the mapped
// file), tokenizer, and the forward pass with ACT calibration in its attention.
//
// Two ways to run it:
// - Session (llama_session.hpp): a KV cache, prefill then token-by-token decode, as a chat or
//   generation loop needs.
// - The stateless whole-prompt calls below, for scoring and head search: embed() the tokens,
//   run_layers() over any range of layers with any calibration (so hidden states before a layer
//   can be computed once and reused for every head of that layer), logits() for the rows wanted.
//   observe_sinks() reports the sinks of every head without changing the output.
// Every layer's attention goes through one AttentionHook (attention_hook.hpp), whatever the policy.
#include <act/core/calibration_report.hpp>
#include <act/core/heads_view.hpp>
#include <act/io/gguf.hpp>
#include <act/io/gguf_checks.hpp>
#include <act/model/act_settings.hpp>
#include <act/model/attention_hook.hpp>
#include <act/model/gemm.hpp>
#include <act/model/kv_cache.hpp>
#include <act/model/llama_config.hpp>
#include <act/model/llama_weights.hpp>
#include <act/model/matmul.hpp>
#include <act/model/rms_norm.hpp>
#include <act/model/rope.hpp>
#include <act/model/swiglu.hpp>
#include <act/model/vector_ops.hpp>
#include <act/text/tokenizer.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace act::model {

// Row-major [rows, cols] float32 matrix: hidden states (one token per row) or logits.
struct Activations {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> data;

  Activations() = default;
  Activations(std::size_t r, std::size_t c) : rows(r), cols(c), data(r * c) {}
  float* row(std::size_t i) noexcept { return data.data() + i * cols; }
  const float* row(std::size_t i) const noexcept { return data.data() + i * cols; }
};

class Session;

namespace detail {

// Scratch buffers of one forward pass over `tokens` tokens.
struct Workspace {
  std::vector<float> normed, q, k, v, attended, projected, gate, up;

  Workspace(const LlamaConfig& c, std::size_t tokens)
      : normed(tokens * c.dim),
        q(tokens * c.dim),
        k(tokens * c.kv_dim()),
        v(tokens * c.kv_dim()),
        attended(tokens * c.dim),
        projected(tokens * c.dim),
        gate(tokens * c.ffn_dim),
        up(tokens * c.ffn_dim) {}
};

}  // namespace detail

class LlamaModel {
 public:
  // Throws act::Error (unreadable file), FormatError (malformed file, missing or misshapen
  // tensor, invalid hyper-parameters) or UnsupportedError (architecture, tensor type, tokenizer).
  // `kv`: how keys and values are stored between computing them and attending over them (the
  // session's cache, and the whole-prompt calls' per-layer buffer alike), and the attention's products.
  // `decode`: the activations of the products over fewer than 8 tokens (decode), matmul.hpp.
  // Overlapping tensor data and non-finite weights load, with load_warnings() saying so.
  static LlamaModel load(const std::filesystem::path& path, Gemm gemm = portable_gemm(), KvSettings kv = {},
                         DecodeActivations decode = DecodeActivations::f32) {
    return LlamaModel(io::GgufFile::open(path), std::move(gemm), kv, decode);
  }
  LlamaModel(io::GgufFile file, Gemm gemm, KvSettings kv = {}, DecodeActivations decode = DecodeActivations::f32)
      : file_(std::move(file)),
        config_(LlamaConfig::from_gguf(file_)),
        weights_(LlamaWeights::from_gguf(file_, config_)),
        tokenizer_(text::Tokenizer::from_gguf(file_)),
        gemm_(std::move(gemm)),
        load_warnings_(io::check_tensor_data(file_)),
        kv_(kv),
        decode_(decode) {}

  LlamaModel(LlamaModel&&) noexcept = default;  // weights point into the mapping, which a move keeps
  LlamaModel(const LlamaModel&) = delete;

  const LlamaConfig& config() const noexcept { return config_; }
  const LlamaWeights& weights() const noexcept { return weights_; }
  const text::Tokenizer& tokenizer() const noexcept { return tokenizer_; }
  const io::GgufFile& file() const noexcept { return file_; }
  // What io::check_tensor_data found at load, for the caller to report (the library prints nothing).
  const std::vector<io::GgufWarning>& load_warnings() const noexcept { return load_warnings_; }
  std::string name() const { return model_name(file_); }
  KvType kv_type() const noexcept { return kv_.type; }
  const KvSettings& kv_settings() const noexcept { return kv_; }
  DecodeActivations decode_activations() const noexcept { return decode_; }

  // Throws std::out_of_range for an id outside the vocabulary.
  void check_tokens(std::span<const std::int32_t> tokens) const {
    for (const std::int32_t t : tokens)
      if (t < 0 || static_cast<std::size_t>(t) >= config_.vocab_size)
        throw std::out_of_range("token id " + std::to_string(t) + " is outside the vocabulary of " +
                                std::to_string(config_.vocab_size));
  }

  // Hidden states [tokens, dim] entering layer 0.
  Activations embed(std::span<const std::int32_t> tokens) const {
    check_tokens(tokens);
    Activations hidden(tokens.size(), config_.dim);
    for (std::size_t i = 0; i < tokens.size(); ++i)
      weights_.token_embedding.decode_row(static_cast<std::size_t>(tokens[i]), hidden.row(i));
    return hidden;
  }

  // Runs layers [first_layer, last_layer) over the whole prompt in `hidden` (token i at position
  // i; no KV cache), calibrating the heads `act` names in those layers with prefill semantics.
  CalibrationReport run_layers(Activations& hidden, std::size_t first_layer, std::size_t last_layer,
                               const ActSettings& act = {}, int threads = 1) const {
    CalibratingAttention hook(act.layer_calibrations(config_.layers, config_.heads), act.calibration());
    return run_stateless(hidden, first_layer, last_layer, hook, threads);
  }

  // Runs layers [first_layer, last_layer) as above with every layer's attention through `hook`: an
  // engine's own policy, or an observer (the real-sink benchmark captures Q, K and V this way).
  CalibrationReport run_layers(Activations& hidden, std::size_t first_layer, std::size_t last_layer,
                               AttentionHook& hook, int threads = 1) const {
    return run_stateless(hidden, first_layer, last_layer, hook, threads);
  }

  // Logits [count, vocab] of hidden rows [first_row, first_row + count) after the last layer.
  Activations logits(const Activations& hidden, std::size_t first_row, std::size_t count, int threads = 1) const {
    if (hidden.cols != config_.dim || first_row > hidden.rows || count > hidden.rows - first_row)
      throw std::out_of_range("logits: rows [" + std::to_string(first_row) + ", " + std::to_string(first_row + count) +
                              ") of hidden states with " + std::to_string(hidden.rows) + " rows of width " +
                              std::to_string(hidden.cols));
    Activations normed(count, config_.dim);
    rms_norm(hidden.row(first_row), weights_.output_norm.data(), normed.data.data(), count, config_.dim,
             config_.rms_epsilon);
    Activations out(count, config_.vocab_size);
    matmul(weights_.output(), normed.data.data(), count, out.data.data(), {&gemm_, threads, decode_});
    return out;
  }

  // Logits [tokens, vocab] of every position of a prompt, with `act` calibration.
  Activations forward(std::span<const std::int32_t> tokens, const ActSettings& act = {}, int threads = 1) const {
    Activations hidden = embed(tokens);
    run_layers(hidden, 0, config_.layers, act, threads);
    return logits(hidden, 0, hidden.rows, threads);
  }

  // Sinks and column means of every (layer, head) for a prompt, chosen by `detector`. Nothing is
  // rescaled, so the forward pass is the plain one.
  std::vector<HeadSinks> observe_sinks(std::span<const std::int32_t> tokens, const AnyDetector& detector,
                                       int threads = 1) const {
    Activations hidden = embed(tokens);
    SinkObserver observer(detector);
    run_stateless(hidden, 0, config_.layers, observer, threads);
    return observer.take();
  }
  // The paper's detector with threshold `tau`.
  std::vector<HeadSinks> observe_sinks(std::span<const std::int32_t> tokens, float tau, int threads = 1) const {
    return observe_sinks(tokens, ColumnMeanThreshold{tau}, threads);
  }

 private:
  friend class Session;

  CalibrationReport run_stateless(Activations& hidden, std::size_t first_layer, std::size_t last_layer,
                                  AttentionHook& hook, int threads) const {
    if (first_layer > last_layer || last_layer > config_.layers)
      throw std::out_of_range("run_layers: layer range [" + std::to_string(first_layer) + ", " +
                              std::to_string(last_layer) + ") of a model with " + std::to_string(config_.layers) +
                              " layers");
    if (hidden.cols != config_.dim) throw std::invalid_argument("run_layers: hidden states have the wrong width");
    const std::size_t n = hidden.rows;
    detail::Workspace work(config_, n);
    const RotaryAngles angles(config_.rope_dim, config_.rope_base, 0, n);
    KvCache layer_kv(1, n, config_.kv_heads, config_.head_dim(), kv_.type);  // each layer's, in turn
    CalibrationReport report;
    for (std::size_t layer = first_layer; layer < last_layer; ++layer)
      report += run_layer(layer, hidden, angles, {layer_kv, 0}, work, hook, threads);
    return report;
  }

  // Where a layer stores its new keys and values (after the cache's size() tokens) and attends.
  struct LayerCache {
    KvCache& cache;
    std::size_t layer;
  };

  // One transformer block over hidden [n, dim] in place; the new tokens follow those in the cache.
  // Never inlined: every caller must run the same compiled body, or inlining into one caller but
  // not another lets the compiler contract or vectorise the float arithmetic differently, and a
  // forward pass split at a layer boundary (the head search's shared prefix) would no longer be
  // bit-identical to an unsplit one (measured: it was not, once the attention hook was added).
  [[gnu::noinline]] CalibrationReport run_layer(std::size_t layer, Activations& hidden, const RotaryAngles& angles,
                                                LayerCache kv, detail::Workspace& work, AttentionHook& hook,
                                                int threads) const {
    const LlamaLayerWeights& w = weights_.layers[layer];
    const std::size_t n = hidden.rows, dim = config_.dim, hd = config_.head_dim();
    const MatmulOptions mm{&gemm_, threads, decode_};

    rms_norm(hidden.data.data(), w.attn_norm.data(), work.normed.data(), n, dim, config_.rms_epsilon);
    const MatmulOutput qkv[] = {{&w.q, work.q.data()}, {&w.k, work.k.data()}, {&w.v, work.v.data()}};
    matmul(qkv, work.normed.data(), n, mm);
    for (std::size_t i = 0; i < n; ++i) {
      angles.apply(work.q.data() + i * dim, config_.heads, hd, i);
      angles.apply(work.k.data() + i * config_.kv_dim(), config_.kv_heads, hd, i);
    }
    const std::size_t start = kv.cache.size();
    kv.cache.store(kv.layer, start, work.k.data(), work.v.data(), n);
    const CalibrationReport report = hook.attend(
        {layer, token_major<const float>(work.q.data(), config_.heads, n, hd), kv.cache.views(kv.layer, start + n),
         token_major<float>(work.attended.data(), config_.heads, n, hd), threads, kv_.products});
    matmul(w.o, work.attended.data(), n, work.projected.data(), mm);
    add_to(hidden.data.data(), work.projected.data(), n * dim);

    rms_norm(hidden.data.data(), w.ffn_norm.data(), work.normed.data(), n, dim, config_.rms_epsilon);
    const MatmulOutput gate_up[] = {{&w.gate, work.gate.data()}, {&w.up, work.up.data()}};
    matmul(gate_up, work.normed.data(), n, mm);
    swiglu(work.gate.data(), work.up.data(), n * config_.ffn_dim);
    matmul(w.down, work.gate.data(), n, work.projected.data(), mm);
    add_to(hidden.data.data(), work.projected.data(), n * dim);
    return report;
  }

  io::GgufFile file_;
  LlamaConfig config_;
  LlamaWeights weights_;
  text::Tokenizer tokenizer_;
  Gemm gemm_;
  std::vector<io::GgufWarning> load_warnings_;
  KvSettings kv_;
  DecodeActivations decode_;
};

}  // namespace act::model
