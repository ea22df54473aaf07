// Writes the generated seeds of the fuzz targets into DIR/<target>/: tiny llama GGUFs in every
// matrix type the model reads and one it cannot, a GGUF holding one tensor of every ggml type, a
// byte-level BPE vocabulary, and head-set files as HeadSet writes them. tools/fuzz.sh runs it and
// adds these to the seeds committed in fuzz/corpus (samples of real files).
#include <act/heads/head_set.hpp>
#include <act/io/ggml_types.hpp>

#include "../tests/runner/tiny_llama.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using act::testing::Bytes;

void write(const fs::path& path, const void* data, std::size_t size) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write(const fs::path& path, const Bytes& bytes) { write(path, bytes.data(), bytes.size()); }
void write(const fs::path& path, const std::string& text) { write(path, text.data(), text.size()); }

void write_gguf_seeds(const fs::path& dir) {
  using act::io::GgmlType;
  for (const GgmlType type : {GgmlType::f32, GgmlType::q8_0, GgmlType::q4_0, GgmlType::q4_1, GgmlType::iq4_nl}) {
    act::testing::TinyLlama model;
    model.matrix_type = static_cast<std::uint32_t>(type);
    write(dir / ("tiny-llama-" + std::string(act::io::type_name(type))), model.build());
  }
  act::testing::GgufBuilder every_type;
  for (const act::io::GgmlTypeTraits& traits : act::io::kGgmlTypeTraits) {
    Bytes block(traits.block_bytes);
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::byte>(i * 37 + traits.block_bytes);
    every_type.tensor({"t." + std::string(traits.name),
                       static_cast<std::uint32_t>(traits.type),
                       {traits.block_size},
                       block,
                       std::nullopt});
  }
  write(dir / "one-block-of-every-type", every_type.build());
  act::text::Vocabulary bpe = act::testing::byte_level_vocab(
      {{"h", "e"}, {"he", "l"}, {"l", "o"}, {" ", "t"}, {" t", "he"}}, {"<|im_start|>", "<|im_end|>"});
  bpe.pre_tokenizer = "smollm";
  bpe.bos = bpe.eos = static_cast<std::int32_t>(bpe.size() - 1);
  act::testing::GgufBuilder bpe_file;
  act::testing::add_vocabulary(bpe_file, bpe);
  write(dir / "byte-level-bpe-vocabulary", bpe_file.build());
}

void write_head_set_seeds(const fs::path& dir) {
  act::HeadSet measured({{3, 5}, {0, 1}, {29, 8}}, 0.4f, 0.1f, "SmolLM2-135M-Instruct");
  measured.measurements.push_back({{3, 5}, {{"accuracy_gain", 0.02}, {"sink_mass", 0.71}}});
  write(dir / "measured", measured.to_json().dump(2));
  write(dir / "no-heads", act::HeadSet({}, 1.0f, 0.0f).to_json().dump());
  act::HeadSet every_head;
  for (std::uint32_t layer = 0; layer < 30; ++layer)
    for (std::uint32_t head = 0; head < 9; ++head) every_head.add({layer, head});
  write(dir / "every-head", every_head.to_json().dump());
  act::HeadSet factors({{4, 0}}, 0.4f, 0.1f, "SmolLM2-135M-Instruct");  // version 3: a factor per head
  factors.add({3, 5}, 0.25f);
  factors.add({7, 2}, 1.5f);
  factors.set_calibration(act::AnyCalibration::initial_token_scaling(0.5f));
  write(dir / "factors", factors.to_json().dump());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    write_gguf_seeds(fs::path(argv[1]) / "fuzz_gguf");
    write_head_set_seeds(fs::path(argv[1]) / "fuzz_head_set");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "write_fuzz_seeds: %s\n", error.what());
    return 1;
  }
  return 0;
}
