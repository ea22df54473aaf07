#pragma once
// What every act-llama subcommand shares: the model, thread and ACT flags, and turning them into a
// loaded model and ACT settings. Errors are thrown as act::Error / std::exception and reported as
// one line by main.cpp.
#include <act/core/fields.hpp>
#include <act/core/files.hpp>
#include <act/core/parallel.hpp>
#include <act/heads/head_set.hpp>
#include <act/model/act_settings.hpp>
#include <act/model/blas_gemm.hpp>
#include <act/model/llama_model.hpp>
#include <act/model/row_gemm.hpp>

#include "model_cache.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace act_llama {

// The GEMM the runner hands the model for its prefill (model/gemm.hpp, row_gemm.hpp).
enum class Matmul {
  automatic,  // openblas, unless it runs kernels older than the CPU (then f32): resolve_matmul()
  openblas,   // cblas_sgemm
  f32,        // the library's own float32 GEMM
  bf16,       // the library's own GEMM on operands rounded to bfloat16
};

struct CommonOptions {
  std::string model;
  int threads = 1;
  std::string act_heads;
  std::optional<float> beta;
  std::optional<float> tau;
  std::string detector;  // registry text; empty: --tau, else the head file's, else the paper's
  std::string rescaler;  // likewise with --beta
  std::size_t context = 0;
  bool heads_any_model = false;
  act::model::KvSettings kv;
  Matmul matmul = Matmul::automatic;
  act::model::DecodeActivations decode_activations = act::model::DecodeActivations::f32;
};

// Whole numbers in [minimum, maximum], written in decimal. (Unsigned options would otherwise take
// "-3" as a huge value, and CLI11's own conversion reads "010" as octal 8 and "0x2" as hex.) The
// text is handed on as the plain decimal number it was read as.
inline CLI::Validator whole_number_from(long long minimum, long long maximum = std::numeric_limits<long long>::max()) {
  const std::string range = maximum == std::numeric_limits<long long>::max()
                                ? ">= " + std::to_string(minimum)
                                : "in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]";
  return CLI::Validator(
      [minimum, maximum, range](std::string& text) -> std::string {
        long long value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value < minimum ||
            value > maximum)
          return "must be a whole number " + range + ", in decimal (got " + text + ")";
        text = std::to_string(value);
        return {};
      },
      "INT" + range);
}

// An error message as one printable line: control characters (a newline or an escape sequence in a
// string read from a model or head file) are written as \xNN, so a message stays one line and
// cannot drive the terminal.
inline std::string printable_line(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += {'\\', 'x', hex[byte >> 4], hex[byte & 15]};
    } else {
      out += c;
    }
  }
  return out;
}

// Past the file-size limit (ulimit -f) a write raises SIGXFSZ, which would end the runner before its
// atomic writer removes the temporary file; ignored, the write fails with EFBIG and is reported, and
// cleaned up, like a full disk.
inline void report_oversized_writes() { std::signal(SIGXFSZ, SIG_IGN); }

// Paths given on the command line: an empty one would read as "not given" (nothing written, exit 0).
inline CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& text) { return text.empty() ? std::string("must not be empty") : std::string(); }, "FILE");
}

// Token ids: what a GGUF vocabulary's int32 ids can hold (the model then checks its own size).
inline CLI::Validator token_id() { return whole_number_from(0, std::numeric_limits<std::int32_t>::max()); }

// Seeds: any uint64, written in decimal. whole_number_from's long long would stop at 2^63 - 1, and
// CLI11's own conversion clamps text above 2^64 - 1, so both ends are checked here.
inline CLI::Validator seed_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        constexpr auto max = std::numeric_limits<std::uint64_t>::max();
        std::uint64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (!text.empty() && text.front() == '-') return "must not be negative (got " + text + ")";
        if (error == std::errc::result_out_of_range)
          return "must be at most " + std::to_string(max) + " (got " + text + ")";
        if (error != std::errc{} || end != text.data() + text.size())
          return "must be a whole number in [0, " + std::to_string(max) + "] (got " + text + ")";
        return {};
      },
      "UINT64");
}

// Finite real numbers in [low, high], or (low, high] when the low end is open; high may be
// infinity (then only finiteness bounds it). Unlike CLI::Range this rejects NaN, which every
// comparison would let through.
inline CLI::Validator real_number_in(double low, double high, bool low_open = false) {
  const auto bound = [](double x) {
    return std::isinf(x) ? std::string(x > 0 ? "inf" : "-inf") : CLI::detail::to_string(x);
  };
  const std::string range =
      (low_open || std::isinf(low) ? "(" : "[") + bound(low) + ", " + bound(high) + (std::isinf(high) ? ")" : "]");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double value = 0;
        const bool finite = CLI::detail::lexical_cast(text, value) && std::isfinite(value);
        if (!finite || value > high || value < low || (low_open && value == low))
          return "must be a finite number in " + range + " (got " + text + ")";
        return {};
      },
      "FLOAT in " + range);
}

// A list option (--tokens 1,2,3; several occurrences add up, and replace the defaults). CLI11's own
// delimiter drops empty items, reading "1,,2" as 1,2 and "," as no list; here an empty item is an
// error. Each item passes `item` (which may rewrite it, as whole_number_from does) before it is
// converted to T.
template <class T>
CLI::Option* add_list_option(CLI::App& command, const std::string& name, std::vector<T>& values,
                             const std::string& description, CLI::Validator item) {
  const std::string flag = name.substr(name.rfind(',') + 1);
  auto parse = [&values, item, flag](const std::vector<std::string>& texts) {
    values.clear();
    for (const std::string& text : texts) {
      for (std::string entry : act::split_fields(text, ',')) {
        if (entry.empty()) throw CLI::ValidationError(flag, "empty item in the list \"" + text + "\"");
        if (std::string error = item(entry); !error.empty()) throw CLI::ValidationError(flag, error);
        T value{};
        if (!CLI::detail::lexical_cast(entry, value)) throw CLI::ConversionError(entry, flag);
        values.push_back(value);
      }
    }
  };
  return command.add_option_function<std::vector<std::string>>(name, parse, description)
      ->type_name(item.get_description() + ",...");
}

// A detector or rescaler in registry text (act/policies/registry.hpp); a bad one is a usage error.
template <class Parse>
CLI::Validator policy_text(Parse parse, std::string kind) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        try {
          parse(text);
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
        return {};
      },
      std::move(kind));
}

// Products of the library's model: the KV cache flags (how it stores keys and values and multiplies
// over them), the prefill GEMM's precision and decode's activations.
inline void add_model_options(CLI::App& command, CommonOptions& options) {
  using act::model::KvType;
  command
      .add_option("--kv-type", options.kv.type,
                  "Element type of stored keys and values: f32, f16 or bf16 (16-bit types halve the KV cache)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, KvType>{{"f32", KvType::f32}, {"f16", KvType::f16}, {"bf16", KvType::bf16}}))
      ->default_str("f32");
  using act::ProductPrecision;
  command
      .add_option("--attention-products", options.kv.products,
                  "Q K^T and P V over a bf16 KV cache: fp32 (exact widening) or bf16 (AVX-512 BF16 where the build "
                  "has it, prefill only)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, ProductPrecision>{{"fp32", ProductPrecision::fp32}, {"bf16", ProductPrecision::bf16}}))
      ->default_str("fp32");
  command
      .add_option("--matmul", options.matmul,
                  "The prefill's matrix products: openblas, f32 (the library's own float32 GEMM), bf16 (activations "
                  "and weights rounded to bfloat16, float32 sums; AVX-512 BF16 where the build has it) or auto "
                  "(openblas, unless OpenBLAS runs kernels for older CPUs than this one: then f32)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Matmul>{
          {"auto", Matmul::automatic}, {"openblas", Matmul::openblas}, {"f32", Matmul::f32}, {"bf16", Matmul::bf16}}))
      ->default_str("auto");
  using act::model::DecodeActivations;
  command
      .add_option("--decode-activations", options.decode_activations,
                  "Decode's products with Q4_1/Q8_0 weights (fewer than 8 new tokens): f32 activations, or int8 "
                  "(rounded per block of 32, integer multiply-adds: faster, less accurate)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, DecodeActivations>{{"f32", DecodeActivations::f32}, {"int8", DecodeActivations::int8}}))
      ->default_str("f32");
}

// The GEMM `auto` stands for on this machine.
inline Matmul resolve_matmul(Matmul matmul) {
  if (matmul != Matmul::automatic) return matmul;
  return act::model::blas_kernels_older_than_cpu() ? Matmul::f32 : Matmul::openblas;
}

// The model flags that differ from their defaults, e.g. "kv-type bf16, matmul bf16"; empty
// when all are defaults. Searches record it, so that a checkpoint is resumed only with the same numbers.
inline std::string arithmetic_text(const CommonOptions& options) {
  std::string text;
  const auto add = [&text](const std::string& flag) { text += (text.empty() ? "" : ", ") + flag; };
  if (options.kv.type == act::model::KvType::f16) add("kv-type f16");
  if (options.kv.type == act::model::KvType::bf16) add("kv-type bf16");
  if (options.kv.products == act::ProductPrecision::bf16) add("attention-products bf16");
  const Matmul matmul = resolve_matmul(options.matmul);  // auto records what it chose
  if (matmul == Matmul::f32) add("matmul f32");
  if (matmul == Matmul::bf16) add("matmul bf16");
  if (options.decode_activations == act::model::DecodeActivations::int8) add("decode-activations int8");
  return text;
}

// Whether a runner offers the flags of the library's model (act-llama-cpp does not: llama.cpp
// keeps its own cache and products).
enum class ModelFlags { offered, not_offered };

inline void add_common_options(CLI::App& command, CommonOptions& options,
                               ModelFlags model_flags = ModelFlags::offered) {
  options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  command.add_option("-m,--model", options.model, "GGUF model file (default: the fetched SmolLM2-135M-Instruct)")
      ->check(non_empty_path());
  command.add_option("-t,--threads", options.threads, "Worker threads")
      ->check(whole_number_from(1, act::parallel::max_threads))
      ->capture_default_str();
  command.add_option("--act-heads", options.act_heads, "ACT head-set file (JSON); none: plain attention")
      ->check(CLI::ExistingFile);
  auto* beta = command
                   .add_option("--beta", options.beta,
                               "ACT: same as --rescaler redistribute:BETA (default: the head file's policy, else 0.4)")
                   ->check(real_number_in(0.0, 1.0));
  auto* tau = command
                  .add_option("--tau", options.tau,
                              "ACT: same as --detector column-mean:TAU (default: the head file's policy, else 0.1)")
                  ->check(real_number_in(0.0, 1.0));
  command
      .add_option("--detector", options.detector,
                  "ACT sink detector, e.g. column-mean:0.1[:first|token0|none], top-k:2[:token0], initial-token "
                  "(default: the head file's)")
      ->check(policy_text(act::parse_detector, "DETECTOR"))
      ->excludes(tau);
  command
      .add_option("--rescaler", options.rescaler,
                  "ACT rescale rule, e.g. redistribute:0.4, scale-only:0.4 (default: the head file's)")
      ->check(policy_text(act::parse_rescaler, "RESCALER"))
      ->excludes(beta);
  command.add_flag("--heads-any-model", options.heads_any_model,
                   "Use an --act-heads file even when its \"model\" names another model");
  command
      .add_option("--ctx", options.context,
                  "Context length in tokens (default: the model's); longer prompts are an error")
      ->check(whole_number_from(1));
  if (model_flags == ModelFlags::offered) add_model_options(command, options);
}

// The context a run may use: --ctx, else the model's. Throws when --ctx exceeds the model's.
inline std::size_t context_limit(const CommonOptions& options, const act::model::LlamaModel& m) {
  return m.config().usable_context(options.context);
}

// Throws unless `tokens` fit in the run's context; `what` names the prompt ("the prompt", "row 7").
inline void check_fits_context(std::size_t tokens, std::size_t context, const std::string& what) {
  if (tokens > context)
    throw act::Error(what + " is " + std::to_string(tokens) + " tokens, more than the context of " +
                     std::to_string(context) + " (--ctx, at most the model's)");
}

// More threads than cores only adds contention (64 threads on 2 cores made decoding 6x slower).
inline void warn_about_threads(int threads) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && static_cast<unsigned>(threads) > cores)
    std::cerr << "act-llama: warning: -t " << threads << " is more than the " << cores
              << " cores of this machine; expect it to be slower than -t " << cores << "\n";
}

inline act::model::Gemm model_gemm(Matmul matmul) {
  switch (resolve_matmul(matmul)) {
    case Matmul::f32: return act::model::f32_gemm();
    case Matmul::bf16: return act::model::bf16_gemm();
    case Matmul::automatic:
    case Matmul::openblas: break;
  }
  return act::model::blas_gemm();
}

inline act::model::LlamaModel load_model(const CommonOptions& options) {
  const bool fallback = options.model.empty();
  const std::filesystem::path path = fallback ? default_model_path() : std::filesystem::path(options.model);
  if (!std::filesystem::is_regular_file(path)) {
    if (std::filesystem::exists(path)) throw act::Error("model path is not a regular file: " + path.string());
    if (fallback)
      throw act::Error("model not found at " + path.string() + ": run tools/fetch_model.sh, or pass -m FILE");
    throw act::Error("model file not found: " + path.string());
  }
  warn_about_threads(options.threads);
  if (options.kv.products == act::ProductPrecision::bf16 && options.kv.type != act::model::KvType::bf16)
    throw act::Error("--attention-products bf16 needs --kv-type bf16 (the products read the bf16 cache)");
  act::model::LlamaModel model =
      act::model::LlamaModel::load(path, model_gemm(options.matmul), options.kv, options.decode_activations);
  for (const act::io::GgufWarning& warning : model.load_warnings())
    std::cerr << "act-llama: warning: " << printable_line(warning.message) << "\n";
  return model;
}

// Every JSON file the runner writes: indented, one trailing newline, written atomically (a failed
// write is an error and leaves any previous file as it was).
inline void write_json_file(const std::string& path, const nlohmann::json& doc) {
  act::write_file_atomically(path, doc.dump(2) + '\n');
}

// Checked before any work, so a run does not compute for minutes and then fail to save: a path
// that exists must be a regular file (write_file_atomically refuses devices such as /dev/full), and
// its folder must exist (the file is written beside it first, then renamed).
inline void check_output_path(const std::string& path, const std::string& flag) {
  if (path.empty()) return;
  if (std::filesystem::exists(path) && !std::filesystem::is_regular_file(path))
    throw act::Error(flag + ": cannot write " + path + ": not a regular file");
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty() && !std::filesystem::is_directory(folder))
    throw act::Error(flag + ": cannot write " + path + ": folder " + folder.string() + " does not exist");
}

// A head set names the model it was searched on; heads of another model are not calibration
// sinks of this one, so running them is refused unless asked for. A file without a model passes.
inline void check_head_set_model(const act::HeadSet& heads, const CommonOptions& options,
                                 const std::string& model_name) {
  if (heads.model.empty() || heads.model == model_name || options.heads_any_model) return;
  throw act::Error(options.act_heads + " was made for model '" + heads.model + "', not '" + model_name +
                   "' (pass --heads-any-model to use it anyway)");
}

// The policy a run calibrates with: each half from its flag (--detector or --tau, --rescaler or
// --beta), else from `recorded` (the head file's, or the paper's default).
inline act::AnyCalibration chosen_calibration(const CommonOptions& options, act::AnyCalibration recorded) {
  if (!options.detector.empty()) {
    recorded.detector = act::parse_detector(options.detector);
  } else if (options.tau) {
    recorded.detector = act::ColumnMeanThreshold{*options.tau};
  }
  if (!options.rescaler.empty()) {
    recorded.rescaler = act::parse_rescaler(options.rescaler);
  } else if (options.beta) {
    recorded.rescaler = act::Redistribute{*options.beta};
  }
  return recorded;
}

// `model_name`: act::model::model_name of the loaded model.
inline act::model::ActSettings act_settings(const CommonOptions& options, const std::string& model_name) {
  if (options.act_heads.empty()) return {};
  act::HeadSet heads = act::HeadSet::load(options.act_heads);
  check_head_set_model(heads, options, model_name);
  act::AnyCalibration calibration = chosen_calibration(options, heads.calibration());
  return {std::move(heads), std::move(calibration)};
}

}  // namespace act_llama
