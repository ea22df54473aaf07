#pragma once
// What the act-llama-cpp subcommands share. The model, thread and ACT flags are act-llama's own
// (examples/act-llama/common.hpp), so the two runners take the same command lines; this adds the
// llama.cpp flags and turns them into an Engine. Tokens come from the library's tokenizer, so both
// runners feed the model the same ids.
#include "engine.hpp"
#include "eval_common.hpp"  // act-llama's
#include "model_checks.hpp"

#include <act/io/gguf.hpp>
#include <act/model/llama_config.hpp>
#include <act/text/tokenizer.hpp>

#include <CLI/CLI.hpp>

#include <string>

namespace act_llama_cpp {

struct EngineFlags {
  act_llama::CommonOptions common;
  std::size_t ubatch = 0;
  std::string flash_attn = "off";
  bool verbose = false;
};

inline void add_engine_flags(CLI::App& command, EngineFlags& flags) {
  act_llama::add_common_options(command, flags.common, act_llama::ModelFlags::not_offered);
  flags.common.context = 2048;
  command
      .add_option("--ubatch", flags.ubatch,
                  "Tokens per llama.cpp ubatch (0: the whole context, so a prompt is one map: act-llama's prefill)")
      ->check(act_llama::whole_number_from(0));
  command.add_option("--flash-attn", flags.flash_attn, "llama.cpp flash attention: off, or on (plain runs only)")
      ->check(CLI::IsMember({"off", "on"}))
      ->capture_default_str();
  command.add_flag("-v,--verbose", flags.verbose, "Show llama.cpp's log");
}

// The model's name as head-set files record it, read from the GGUF the engine loads.
inline std::string model_name_of(const EngineFlags& flags) {
  return act::model::model_name(act::io::GgufFile::open(act_llama::model_path(flags.common)));
}

inline Engine make_engine(const EngineFlags& flags) {
  EngineOptions options;
  options.model = act_llama::model_path(flags.common);
  check_model_for_llama_cpp(options.model);
  options.act = act_llama::act_settings(flags.common, model_name_of(flags));
  options.flash_attention = flags.flash_attn == "on" ? FlashAttention::on : FlashAttention::off;
  options.context = flags.common.context;
  options.ubatch = flags.ubatch;
  options.threads = flags.common.threads;
  options.verbose = flags.verbose;
  return Engine(std::move(options));
}

// The library's tokenizer of the model file (the one act-llama uses).
inline act::text::Tokenizer tokenizer_of(const EngineFlags& flags) {
  return act::text::Tokenizer::from_gguf(act::io::GgufFile::open(act_llama::model_path(flags.common)));
}

// A prompt given as token ids or as text (tokenised with BOS by the library's tokenizer).
struct PromptFlags {
  std::vector<std::int32_t> tokens;
  std::string text;
};

inline void add_prompt_flags(CLI::App& command, PromptFlags& flags) {
  auto* tokens = act_llama::add_list_option(command, "--tokens", flags.tokens, "Token ids, comma separated",
                                            act_llama::token_id());
  command.add_option("-p,--prompt", flags.text, "Prompt text (tokenised with BOS)")->excludes(tokens);
}

inline std::vector<std::int32_t> prompt_tokens(const EngineFlags& engine, const PromptFlags& prompt) {
  std::vector<std::int32_t> tokens =
      prompt.tokens.empty() ? tokenizer_of(engine).encode(prompt.text, true) : prompt.tokens;
  if (tokens.empty()) throw act::Error("no tokens: pass --tokens or a non-empty --prompt");
  return tokens;
}

void register_dump_logits(CLI::App& app);
void register_generate(CLI::App& app);
void register_eval(CLI::App& app);
void register_bench(CLI::App& app);
void register_parity(CLI::App& app);
void register_check_maps(CLI::App& app);

}  // namespace act_llama_cpp
