// act-llama dump-logits: the logits of every position of a prompt as raw float32 [tokens, vocab]
// (row-major, native byte order), for parity scripts such as tools/gen_golden_logits.py. With
// --one-at-a-time the prompt goes through a session token by token, so every position is a decode
// step (what --decode-activations changes) rather than a row of one whole-prompt pass.
#include "common.hpp"
#include "subcommands.hpp"

#include <act/model/llama_session.hpp>

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
  bool one_at_a_time = false;
};

// Logits [tokens, vocab] of a session fed one token per step.
std::vector<float> decode_logits(const act::model::LlamaModel& model, const std::vector<std::int32_t>& tokens,
                                 const CommonOptions& common) {
  act::model::Session session(model, {tokens.size(), common.threads, act_settings(common, model.name())});
  std::vector<float> all;
  all.reserve(tokens.size() * model.config().vocab_size);
  for (const std::int32_t token : tokens) {
    const std::vector<float> step = session.decode(token);
    all.insert(all.end(), step.begin(), step.end());
  }
  return all;
}

void run_dump(const DumpOptions& options) {
  check_output_path(options.output, "-o");
  const act::model::LlamaModel model = load_model(options.common);
  const std::vector<std::int32_t> tokens =
      options.tokens.empty() ? model.tokenizer().encode(options.prompt, true) : options.tokens;
  if (tokens.empty()) throw act::Error("no tokens: pass --tokens or a non-empty --prompt");
  check_fits_context(tokens.size(), context_limit(options.common, model), "the prompt");
  const std::vector<float> logits =
      options.one_at_a_time
          ? decode_logits(model, tokens, options.common)
          : model.forward(tokens, act_settings(options.common, model.name()), options.common.threads).data;
  act::write_file_atomically(options.output,
                             {reinterpret_cast<const char*>(logits.data()), logits.size() * sizeof(float)});
}

}  // namespace

void register_dump_logits(CLI::App& app) {
  auto options = std::make_shared<DumpOptions>();
  CLI::App* command = app.add_subcommand("dump-logits", "Write the logits of every prompt position (raw float32)");
  add_common_options(*command, options->common);
  auto* tokens = add_list_option(*command, "--tokens", options->tokens, "Token ids, comma separated", token_id());
  command->add_option("-p,--prompt", options->prompt, "Prompt text (tokenised with BOS)")->excludes(tokens);
  command->add_option("-o,--output", options->output, "Output file")->required()->check(non_empty_path());
  command->add_flag("--one-at-a-time", options->one_at_a_time,
                    "Feed the prompt one token per decode step (a session) instead of one whole-prompt pass");
  command->callback([options] { run_dump(*options); });
}

}  // namespace act_llama
