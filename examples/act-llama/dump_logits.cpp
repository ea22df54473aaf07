// act-llama dump-logits: the logits of every position of a prompt as raw float32 [tokens, vocab]
// (row-major, native byte order), for parity scripts such as tools/gen_golden_logits.py.
#include "common.hpp"
#include "subcommands.hpp"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace act_llama {
namespace {

struct DumpOptions {
  CommonOptions common;
  std::vector<std::int32_t> tokens;
  std::string prompt;
  std::string output;
};

void run_dump(const DumpOptions& options) {
  const act::model::LlamaModel model = load_model(options.common);
  const std::vector<std::int32_t> tokens =
      options.tokens.empty() ? model.tokenizer().encode(options.prompt, true) : options.tokens;
  if (tokens.empty()) throw act::Error("no tokens: pass --tokens or a non-empty --prompt");
  const act::model::Activations logits =
      model.forward(tokens, act_settings(options.common), options.common.threads);
  std::ofstream out(options.output, std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data.data()),
            static_cast<std::streamsize>(logits.data.size() * sizeof(float)));
  if (!out) throw act::Error("cannot write " + options.output);
}

}  // namespace

void register_dump_logits(CLI::App& app) {
  auto options = std::make_shared<DumpOptions>();
  CLI::App* command = app.add_subcommand("dump-logits", "Write the logits of every prompt position (raw float32)");
  add_common_options(*command, options->common);
  auto* tokens = command->add_option("--tokens", options->tokens, "Token ids, comma separated")->delimiter(',');
  command->add_option("-p,--prompt", options->prompt, "Prompt text (tokenised with BOS)")->excludes(tokens);
  command->add_option("-o,--output", options->output, "Output file")->required();
  command->callback([options] { run_dump(*options); });
}

}  // namespace act_llama
