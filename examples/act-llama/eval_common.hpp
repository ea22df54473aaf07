#pragma once
// What the evaluation subcommands (eval, search-heads, sinks) share: where the data lives, the
// work-split flag, the model's identity for result files, and loading task rows.
#include "common.hpp"
#include "progress.hpp"

#include <act/core/parallel.hpp>
#include <act/eval/harness/progress.hpp>
#include <act/eval/harness/work_split.hpp>
#include <act/eval/tasks/example.hpp>
#include <act/io/sha256.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace act_llama {

struct DataOptions {
  std::string data_dir;
  std::string work_split = "prompts";
  bool quiet = false;
};

inline void add_data_options(CLI::App& command, DataOptions& options) {
  command.add_option("--data", options.data_dir,
                     "Evaluation data folder (default: $ACT_DATA_DIR, else ../shared/data from the current folder)");
  command
      .add_option("--work-split", options.work_split,
                  "How threads share the work: prompts (side by side), heads (search only) or model")
      ->check(CLI::IsMember({"prompts", "heads", "model"}))
      ->capture_default_str();
  command.add_flag("-q,--quiet", options.quiet, "No progress line on stderr");
}

// The progress line on stderr, or nothing with --quiet.
inline act::eval::ProgressReporter& progress_for(const DataOptions& options) {
  static TerminalProgress terminal;
  if (options.quiet) return act::eval::silent_progress();
  return terminal;
}

inline std::filesystem::path data_dir(const DataOptions& options) {
  std::filesystem::path dir = options.data_dir;
  if (dir.empty()) {
    const char* env = std::getenv("ACT_DATA_DIR");
    dir = env != nullptr ? std::filesystem::path(env) : std::filesystem::path("..") / "shared" / "data";
  }
  if (!std::filesystem::is_directory(dir))
    throw act::Error("evaluation data not found at " + dir.string() + ": pass --data DIR or set ACT_DATA_DIR");
  return dir;
}

// The rows of one task's split, the first `limit` of them (0: all).
inline std::vector<act::eval::Example> load_split(const DataOptions& options, const act::eval::Task& task,
                                                  const std::string& split, std::size_t limit = 0) {
  const auto path = act::eval::split_path(data_dir(options), task, split);
  if (!std::filesystem::is_regular_file(path))
    throw act::Error("no " + split + " split for task " + std::string(task.name) + " (" + path.string() + " missing)");
  std::vector<act::eval::Example> rows = act::eval::load_examples(task, path);
  if (limit != 0 && rows.size() > limit) rows.resize(limit);
  return rows;
}

// A decimal index below 2^20; `flag` and `expected` make the error message.
inline std::uint32_t parse_index(const std::string& text, const std::string& flag, const std::string& expected) {
  std::size_t end = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  if (end == 0 || end != text.size() || text[0] == '-' || value >= (1ul << 20))
    throw act::Error(flag + ": '" + text + "' is not " + expected);
  return static_cast<std::uint32_t>(value);
}

inline std::filesystem::path model_path(const CommonOptions& options) {
  return options.model.empty() ? default_model_path() : std::filesystem::path(options.model);
}

}  // namespace act_llama
