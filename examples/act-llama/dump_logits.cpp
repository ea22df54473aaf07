// act-llama dump-logits: the logits of every position of a prompt as raw float32 [tokens, vocab]
// (row-major, native byte order), for parity scripts such as tools/gen_golden_logits.py.
#include "common.hpp"
#include "subcommands.hpp"

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
  check_output_path(options.output, "-o");
  const act::model::LlamaModel model = load_model(options.common);
  const std::vector<std::int32_t> tokens =
      options.tokens.empty() ? model.tokenizer().encode(options.prompt, true) : options.tokens;
  if (tokens.empty()) throw act::Error("no tokens: pass --tokens or a non-empty --prompt");
  check_fits_context(tokens.size(), context_limit(options.common, model), "the prompt");
  const act::model::Activations logits =
      model.forward(tokens, act_settings(options.common, model.name()), options.common.threads);
  act::write_file_atomically(options.output,
                             {reinterpret_cast<const char*>(logits.data.data()), logits.data.size() * sizeof(float)});
}

}  // namespace

void register_dump_logits(CLI::App& app) {
  auto options = std::make_shared<DumpOptions>();
  CLI::App* command = app.add_subcommand("dump-logits", "Write the logits of every prompt position (raw float32)");
  add_common_options(*command, options->common);
  auto* tokens = command->add_option("--tokens", options->tokens, "Token ids, comma separated")
                     ->delimiter(',')
                     ->check(whole_number_from(0));
  command->add_option("-p,--prompt", options->prompt, "Prompt text (tokenised with BOS)")->excludes(tokens);
  command->add_option("-o,--output", options->output, "Output file")->required();
  command->callback([options] { run_dump(*options); });
}

}  // namespace act_llama
