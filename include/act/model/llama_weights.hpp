#pragma once
// The tensors of a llama GGUF, found by their GGUF names and checked against the configuration.
// Matrices stay in the mapped file where their type allows (see weight_matrix.hpp); norm vectors
// are small and always decoded to float.
#include <act/io/dequantize.hpp>
#include <act/io/gguf.hpp>
#include <act/io/gguf_blocks.hpp>
#include <act/model/llama_config.hpp>
#include <act/model/weight_matrix.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace act::model {

struct LlamaLayerWeights {
  std::vector<float> attn_norm;  // [dim]
  WeightMatrix q, k, v;          // [dim, dim], [kv_dim, dim], [kv_dim, dim]; Q and K rows in RoPE pair order
  WeightMatrix o;                // [dim, dim]
  std::vector<float> ffn_norm;   // [dim]
  WeightMatrix gate, up;         // [ffn_dim, dim]
  WeightMatrix down;             // [dim, ffn_dim]
};

class LlamaWeights {
 public:
  WeightMatrix token_embedding;  // [vocab, dim]: row t is token t's embedding
  std::vector<float> output_norm;
  std::vector<LlamaLayerWeights> layers;

  // The output projection [vocab, dim]: `output.weight`, or the token embedding when tied.
  const WeightMatrix& output() const noexcept { return output_ ? *output_ : token_embedding; }
  bool tied_output() const noexcept { return !output_.has_value(); }

  // Throws FormatError naming the tensor that is missing or misshapen, UnsupportedError for a
  // tensor type that cannot be decoded.
  static LlamaWeights from_gguf(const io::GgufFile& file, const LlamaConfig& config) {
    io::check_block_count(file, config.layers);  // blocks past the count would be ignored unseen
    LlamaWeights w;
    const auto matrix = [&](const std::string& name, std::size_t rows, std::size_t cols) {
      return WeightMatrix::from_gguf(file, file.tensor(name), rows, cols);
    };
    w.token_embedding = matrix("token_embd.weight", config.vocab_size, config.dim);
    w.output_norm = vector(file, "output_norm.weight", config.dim);
    if (file.find_tensor("output.weight") != nullptr)
      w.output_ = matrix("output.weight", config.vocab_size, config.dim);
    w.layers.reserve(config.layers);
    for (std::size_t i = 0; i < config.layers; ++i) {
      const std::string prefix = "blk." + std::to_string(i) + ".";
      LlamaLayerWeights layer;
      layer.attn_norm = vector(file, prefix + "attn_norm.weight", config.dim);
      layer.q = matrix(prefix + "attn_q.weight", config.dim, config.dim);
      layer.k = matrix(prefix + "attn_k.weight", config.kv_dim(), config.dim);
      layer.v = matrix(prefix + "attn_v.weight", config.kv_dim(), config.dim);
      layer.o = matrix(prefix + "attn_output.weight", config.dim, config.dim);
      layer.ffn_norm = vector(file, prefix + "ffn_norm.weight", config.dim);
      layer.gate = matrix(prefix + "ffn_gate.weight", config.ffn_dim, config.dim);
      layer.up = matrix(prefix + "ffn_up.weight", config.ffn_dim, config.dim);
      layer.down = matrix(prefix + "ffn_down.weight", config.dim, config.ffn_dim);
      w.layers.push_back(std::move(layer));
    }
    return w;
  }

 private:
  static std::vector<float> vector(const io::GgufFile& file, const std::string& name, std::size_t size) {
    const io::GgufTensorInfo& info = file.tensor(name);
    if (info.dims.size() != 1 || info.dims[0] != size)
      throw FormatError(file.name() + ": tensor '" + name + "' should be a vector of " + std::to_string(size) +
                        " elements");
    return io::dequantize(file, info);
  }

  std::optional<WeightMatrix> output_;
};

}  // namespace act::model
