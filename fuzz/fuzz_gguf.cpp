// GGUF bytes -> GgufFile::parse, every metadata getter on every entry, dequantisation of every
// tensor, the tokenizer the file describes, and the llama model it describes with one forward step.
// Malformed or unsupported input must end in act::Error; any other exception, a crash or a
// sanitizer report is a bug.
#include <act/io/dequantize.hpp>
#include <act/io/gguf.hpp>
#include <act/model/llama_model.hpp>
#include <act/text/tokenizer.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace {

using act::io::GgufFile;

// The getters reject a value of another type with act::Error.
void read_every_entry(const GgufFile& file) {
  for (const act::io::GgufMetadataEntry& entry : file.metadata()) {
    const std::string_view key = entry.key;
    FUZZ_CHECK(file.find_entry(key) == &entry);
    allow_only<act::Error>([&] { file.get_string(key); });
    allow_only<act::Error>([&] { file.get_uint(key); });
    allow_only<act::Error>([&] { file.get_float(key); });
    allow_only<act::Error>([&] { file.get_bool(key); });
    allow_only<act::Error>([&] { file.get_string_array(key); });
    allow_only<act::Error>([&] { file.get_float_array(key); });
    allow_only<act::Error>([&] { file.get_int_array(key); });
  }
}

void dequantize_every_tensor(const GgufFile& file) {
  for (const act::io::GgufTensorInfo& info : file.tensors()) {
    FUZZ_CHECK(file.tensor_bytes(info).size() == info.byte_size);
    if (!act::io::can_dequantize(info.type)) {
      bool refused = false;
      try {
        act::io::dequantize(file, info);
      } catch (const act::UnsupportedError&) {
        refused = true;
      }
      FUZZ_CHECK(refused);
      continue;
    }
    FUZZ_CHECK(act::io::dequantize(file, info).size() == info.element_count);
  }
}

void use_tokenizer(const act::text::Tokenizer& tokenizer) {
  const auto ids = tokenizer.encode("Once upon a time, 3 cats\xE2\x96\x81 said \xC3\xA9\xFF<s>!", true);
  for (const std::int32_t id : ids) FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < tokenizer.size());
  tokenizer.decode(ids);
}

void run_model(GgufFile file) {
  const act::model::LlamaModel model(std::move(file), act::model::portable_gemm());
  const std::int32_t token = 0;  // the configuration guarantees a non-empty vocabulary
  const act::model::Activations logits = model.forward(std::span(&token, 1));
  FUZZ_CHECK(logits.rows == 1 && logits.cols == model.config().vocab_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    GgufFile file = GgufFile::parse(std::as_bytes(std::span(data, size)), "fuzz.gguf");
    read_every_entry(file);
    dequantize_every_tensor(file);
    allow_only<act::Error>([&] { use_tokenizer(act::text::Tokenizer::from_gguf(file)); });
    run_model(std::move(file));
  } catch (const act::Error&) {}
  return 0;
}
