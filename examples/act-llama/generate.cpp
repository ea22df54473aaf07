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
  std::string prompt_file;
  bool chat = false;
  bool parse_special = false;
  std::size_t max_new_tokens = 128;
  bool ignore_eos = false;
  act::model::SamplerOptions sampling;
  std::string timing_json;
};

// The prompt's tokens: the user's text, in SmolLM2's chat template for a single user turn with
// --chat. The template's markers are special tokens; the user's text is plain text unless
// --parse-special asks otherwise, so typed markers cannot end the turn.
std::vector<std::int32_t> prompt_tokens(const act::text::Tokenizer& tokenizer, const std::string& user, bool chat,
                                        act::text::SpecialTokens user_specials) {
  if (!chat) return tokenizer.encode(user, true, user_specials);
  for (const char* marker : {"<|im_start|>", "<|im_end|>"})  // otherwise the template is spelt as plain text
    if (tokenizer.encode(marker, false).size() != 1)
      throw act::Error(std::string("--chat writes SmolLM2's chat template, but this model has no ") + marker +
                       " token; leave out --chat");
  std::vector<std::int32_t> ids = tokenizer.encode("<|im_start|>user\n", true);
  const auto append = [&ids](const std::vector<std::int32_t>& more) {
    ids.insert(ids.end(), more.begin(), more.end());
  };
  append(tokenizer.encode(user, false, user_specials));
  append(tokenizer.encode("<|im_end|>\n<|im_start|>assistant\n", false));
  return ids;
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
    check();
  }
  void finish() {
    out_ << pending_ << '\n' << std::flush;
    check();
  }

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

  // A full disk or closed pipe ends the run as a failure rather than generating into the void.
  void check() const {
    if (!out_) throw act::Error("cannot write the generated text to standard output");
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

// Far beyond any model's context (a token is a few bytes), small enough to read at once.
constexpr std::size_t max_prompt_file_bytes = std::size_t{64} << 20;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run_generate(const GenerateOptions& options) {
  check_output_path(options.timing_json, "--timing-json");
  const act::model::LlamaModel model = load_model(options.common);
  const std::size_t context = context_limit(options.common, model);
  act::model::Session session(model, {context, options.common.threads, act_settings(options.common, model.name())});
  act::model::Sampler sampler(options.sampling);
  const auto& tokenizer = model.tokenizer();
  const std::string text = options.prompt_file.empty()
                               ? options.prompt
                               : act::read_regular_file(options.prompt_file, max_prompt_file_bytes, "prompt file");
  const auto prompt =
      prompt_tokens(tokenizer, text, options.chat,
                    options.parse_special ? act::text::SpecialTokens::parse : act::text::SpecialTokens::as_text);
  if (prompt.empty()) throw act::Error("the prompt is empty");
  check_fits_context(prompt.size(), context, "the prompt");

  Timing timing;
  timing.prompt_tokens = prompt.size();
  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits = session.prefill(prompt);
  timing.prefill_seconds = seconds_since(start);

  Utf8Printer printer(std::cout);
  bool context_full = false;
  for (std::size_t produced = 0; produced < options.max_new_tokens; ++produced) {
    const std::int32_t token = sampler.sample(logits);
    if (token == tokenizer.eos() && !options.ignore_eos) break;
    printer.add(tokenizer.token_text(token));
    if (produced + 1 == options.max_new_tokens) break;
    // The token just printed has no room in the cache: stop here, a normal end (exit 0).
    if ((context_full = session.position() == session.context())) break;
    start = std::chrono::steady_clock::now();
    logits = session.decode(token);
    timing.decode_seconds += seconds_since(start);
    ++timing.decoded_tokens;
  }
  printer.finish();
  if (context_full)
    std::cerr << "generation stopped: the context of " << session.context() << " tokens is full (--ctx)\n";

  std::cerr << "prefill: " << timing.prompt_tokens << " tokens, "
            << Timing::rate(timing.prompt_tokens, timing.prefill_seconds)
            << " tokens/s; decode: " << timing.decoded_tokens << " tokens, "
            << Timing::rate(timing.decoded_tokens, timing.decode_seconds) << " tokens/s (" << session.threads()
            << " threads)\n";
  std::cerr << "kv cache: " << act::model::kv_type_name(model.kv_type()) << ", " << session.kv_bytes_per_token()
            << " bytes/token\n";
  if (session.act().enabled())
    std::cerr << "act: " << session.act().heads().size() << " heads (" << session.act().heads().factors().size()
              << " with a factor of their own), " << session.act().calibration().text() << "; rows calibrated "
              << session.report().rows_calibrated << '\n';
  if (options.timing_json.empty()) return;
  nlohmann::json doc = timing.to_json(session.threads());
  doc["kv_type"] = act::model::kv_type_name(model.kv_type());
  doc["kv_bytes_per_token"] = session.kv_bytes_per_token();
  write_json_file(options.timing_json, doc);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand("generate", "Continue a prompt (or answer it with --chat), streaming tokens");
  add_common_options(*command, options->common);
  auto* prompt = command->add_option("-p,--prompt", options->prompt, "Prompt text");
  command->add_option("--prompt-file", options->prompt_file, "Read the prompt from this file (for long prompts)")
      ->excludes(prompt);
  command->add_flag("--chat", options->chat, "Wrap the prompt in the chat template (SmolLM2's <|im_start|> format)");
  command->add_flag("--parse-special", options->parse_special,
                    "Read special tokens written in the prompt (<|im_end|>, <s>) as those tokens, not as text");
  command->add_option("-n,--max-tokens", options->max_new_tokens, "Maximum new tokens")
      ->check(whole_number_from(0))
      ->capture_default_str();
  command->add_flag("--ignore-eos", options->ignore_eos, "Keep generating past the end-of-sequence token");
  command->add_option("--temperature", options->sampling.temperature, "Sampling temperature (0: greedy)")
      ->check(real_number_in(0.0, std::numeric_limits<float>::max()))  // read as float: past it, inf
      ->capture_default_str();
  command->add_option("--top-p", options->sampling.top_p, "Nucleus sampling mass, in (0, 1]")
      ->check(real_number_in(0.0, 1.0, true))
      ->capture_default_str();
  command->add_option("--seed", options->sampling.seed, "Sampling seed")->check(seed_number())->capture_default_str();
  command->add_option("--timing-json", options->timing_json, "Write prefill/decode timings to this JSON file")
      ->check(non_empty_path());
  command->callback([options, prompt] {
    // Checked here, not by CLI11's ->required(), because either of two options will do.
    if (prompt->count() == 0 && options->prompt_file.empty()) throw CLI::RequiredError("-p,--prompt or --prompt-file");
    run_generate(*options);
  });
}

}  // namespace act_llama
