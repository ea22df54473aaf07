// act-llama-cpp generate: greedy continuation of a prompt; the prompt is one prefill, then one
// decode step per token, ACT's statistics running over the whole sequence.
#include "cli.hpp"

#include <algorithm>
#include <iostream>
#include <memory>

namespace act_llama_cpp {
namespace {

struct GenerateOptions {
  EngineFlags engine;
  std::string prompt;
  std::size_t max_new_tokens = 64;
};

void run_generate(const GenerateOptions& o) {
  const act::text::Tokenizer tokenizer = tokenizer_of(o.engine);
  std::vector<std::int32_t> tokens = tokenizer.encode(o.prompt, true);
  if (tokens.empty()) throw act::Error("the prompt tokenises to nothing");
  Engine engine = make_engine(o.engine);
  engine.start_sequence();
  std::vector<float> logits = engine.decode(tokens, tokens.size() - 1, 1);
  std::vector<std::int32_t> generated;
  for (std::size_t step = 0; step < o.max_new_tokens; ++step) {
    const std::int32_t next = greedy(logits);
    if (next == tokenizer.eos()) break;
    generated.push_back(next);
    std::cout << tokenizer.token_text(next) << std::flush;
    if (step + 1 < o.max_new_tokens) logits = engine.decode(std::span(&generated.back(), 1), 0, 1);
  }
  std::cout << '\n';
  const act::CalibrationReport& r = engine.hook().report();
  if (engine.hook().enabled())
    std::cerr << "act: " << r.rows_calibrated << " rows calibrated, " << r.sinks_selected << " sinks selected\n";
}

}  // namespace

void register_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand("generate", "Greedy continuation of a prompt");
  add_engine_flags(*command, o->engine);
  command->add_option("-p,--prompt", o->prompt, "Prompt text")->required();
  command->add_option("-n,--max-new-tokens", o->max_new_tokens, "Tokens to generate")
      ->check(act_llama::whole_number_from(1))
      ->capture_default_str();
  command->callback([o] { run_generate(*o); });
}

}  // namespace act_llama_cpp
