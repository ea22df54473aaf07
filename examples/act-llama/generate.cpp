// act-llama generate: text continuation or a chat reply, streamed token by token.
#include "common.hpp"
#include "subcommands.hpp"

#include <act/model/llama_session.hpp>
#include <act/model/sampler.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

namespace act_llama {
namespace {

struct GenerateOptions {
  CommonOptions common;
  std::string prompt;
  bool chat = false;
  std::size_t max_new_tokens = 128;
  bool ignore_eos = false;
  act::model::SamplerOptions sampling;
  std::string timing_json;
};

// SmolLM2's chat template for a single user turn.
std::string chat_prompt(const std::string& user) {
  return "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
}

// Writes token bytes to a stream as they come, holding back a UTF-8 character whose bytes are
// split across tokens (byte-level vocabularies do that) until it is complete.
class Utf8Printer {
 public:
  explicit Utf8Printer(std::ostream& out) : out_(out) {}
  void add(std::string_view bytes) {
    pending_ += bytes;
    const std::size_t ready = complete_prefix(pending_);
    out_.write(pending_.data(), static_cast<std::streamsize>(ready)).flush();
    pending_.erase(0, ready);
  }
  void finish() { out_ << pending_ << '\n' << std::flush; }

 private:
  // Length of the longest prefix not ending inside a multi-byte character.
  static std::size_t complete_prefix(std::string_view text) {
    for (std::size_t back = 1; back <= 4 && back <= text.size(); ++back) {
      const auto byte = static_cast<unsigned char>(text[text.size() - back]);
      if ((byte & 0xC0) == 0x80) continue;  // continuation byte: look further back
      const std::size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
      return length > back ? text.size() - back : text.size();
    }
    return text.size();
  }

  std::ostream& out_;
  std::string pending_;
};

struct Timing {
  std::size_t prompt_tokens = 0, decoded_tokens = 0;
  double prefill_seconds = 0.0, decode_seconds = 0.0;

  static double rate(std::size_t tokens, double seconds) {
    return seconds > 0.0 ? static_cast<double>(tokens) / seconds : 0.0;
  }
  nlohmann::json to_json(int threads) const {
    return {{"threads", threads},
            {"prompt_tokens", prompt_tokens},
            {"prefill_seconds", prefill_seconds},
            {"prefill_tokens_per_second", rate(prompt_tokens, prefill_seconds)},
            {"decode_tokens", decoded_tokens},
            {"decode_seconds", decode_seconds},
            {"decode_tokens_per_second", rate(decoded_tokens, decode_seconds)}};
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run_generate(const GenerateOptions& options) {
  const act::model::LlamaModel model = load_model(options.common);
  act::model::Session session(model, {options.common.context, options.common.threads, act_settings(options.common)});
  act::model::Sampler sampler(options.sampling);
  const auto& tokenizer = model.tokenizer();
  const auto prompt = tokenizer.encode(options.chat ? chat_prompt(options.prompt) : options.prompt, true);
  if (prompt.empty()) throw act::Error("the prompt is empty");

  Timing timing;
  timing.prompt_tokens = prompt.size();
  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits = session.prefill(prompt);
  timing.prefill_seconds = seconds_since(start);

  Utf8Printer printer(std::cout);
  for (std::size_t produced = 0; produced < options.max_new_tokens; ++produced) {
    const std::int32_t token = sampler.sample(logits);
    if (token == tokenizer.eos() && !options.ignore_eos) break;
    printer.add(tokenizer.token_text(token));
    if (produced + 1 == options.max_new_tokens) break;
    start = std::chrono::steady_clock::now();
    logits = session.decode(token);
    timing.decode_seconds += seconds_since(start);
    ++timing.decoded_tokens;
  }
  printer.finish();

  std::cerr << "prefill: " << timing.prompt_tokens << " tokens, "
            << Timing::rate(timing.prompt_tokens, timing.prefill_seconds)
            << " tokens/s; decode: " << timing.decoded_tokens << " tokens, "
            << Timing::rate(timing.decoded_tokens, timing.decode_seconds) << " tokens/s (" << session.threads()
            << " threads)\n";
  if (session.act().enabled())
    std::cerr << "act: " << session.act().heads().size() << " heads, " << session.act().calibration().text()
              << "; rows calibrated " << session.report().rows_calibrated << '\n';
  if (!options.timing_json.empty()) write_json_file(options.timing_json, timing.to_json(session.threads()));
}

}  // namespace

void register_generate(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand("generate", "Continue a prompt (or answer it with --chat), streaming tokens");
  add_common_options(*command, options->common);
  command->add_option("-p,--prompt", options->prompt, "Prompt text")->required();
  command->add_flag("--chat", options->chat, "Wrap the prompt in the chat template (SmolLM2's <|im_start|> format)");
  command->add_option("-n,--max-tokens", options->max_new_tokens, "Maximum new tokens")
      ->check(whole_number_from(0))
      ->capture_default_str();
  command->add_flag("--ignore-eos", options->ignore_eos, "Keep generating past the end-of-sequence token");
  command->add_option("--temperature", options->sampling.temperature, "Sampling temperature (0: greedy)")
      ->check(real_number_in(0.0, std::numeric_limits<double>::infinity()))
      ->capture_default_str();
  command->add_option("--top-p", options->sampling.top_p, "Nucleus sampling mass, in (0, 1]")
      ->check(real_number_in(0.0, 1.0, true))
      ->capture_default_str();
  command->add_option("--seed", options->sampling.seed, "Sampling seed")
      ->check(whole_number_from(0))
      ->capture_default_str();
  command->add_option("--timing-json", options->timing_json, "Write prefill/decode timings to this JSON file");
  command->callback([options] { run_generate(*options); });
}

}  // namespace act_llama
