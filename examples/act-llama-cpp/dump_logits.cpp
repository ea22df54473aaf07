// act-llama-cpp dump-logits: the logits of every prompt position as raw float32 [tokens, vocab],
// the format of `act-llama dump-logits`, so the two routes can be compared file to file.
#include "cli.hpp"

#include <act/core/files.hpp>

#include <memory>
#include <string_view>

namespace act_llama_cpp {
namespace {

struct DumpOptions {
  EngineFlags engine;
  PromptFlags prompt;
  std::string output;
};

void run_dump(const DumpOptions& o) {
  const std::vector<std::int32_t> tokens = prompt_tokens(o.engine, o.prompt);
  Engine engine = make_engine(o.engine);
  for (const std::int32_t t : tokens)
    if (t < 0 || static_cast<std::size_t>(t) >= engine.vocab_size())
      throw act::Error("token id " + std::to_string(t) + " is outside the vocabulary");
  const std::vector<float> logits = engine.sequence_logits(tokens, 0, tokens.size());
  act::write_file_atomically(
      o.output, std::string_view(reinterpret_cast<const char*>(logits.data()), logits.size() * sizeof(float)));
}

}  // namespace

void register_dump_logits(CLI::App& app) {
  auto o = std::make_shared<DumpOptions>();
  CLI::App* command = app.add_subcommand("dump-logits", "Write the logits of every prompt position (raw float32)");
  add_engine_flags(*command, o->engine);
  add_prompt_flags(*command, o->prompt);
  command->add_option("-o,--output", o->output, "Output file")->required();
  command->callback([o] { run_dump(*o); });
}

}  // namespace act_llama_cpp
