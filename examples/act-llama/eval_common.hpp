#pragma once
// What the evaluation subcommands (eval, search-heads, sinks, and act-llama-cpp's eval) share:
// where the data lives, the work-split flag, the eval flags, the model's identity for result
// files, and loading task rows.
#include "common.hpp"
#include "progress.hpp"

#include <act/core/parallel.hpp>
#include <act/eval/harness/harness.hpp>
#include <act/eval/harness/progress.hpp>
#include <act/eval/harness/work_split.hpp>
#include <act/eval/tasks/example.hpp>
#include <act/io/sha256.hpp>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
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

// The evaluation flags act-llama eval and act-llama-cpp eval share: what to evaluate and where to
// write it. Each runner adds its own (model or engine, controls).
struct EvalTaskOptions {
  std::string tasks;
  std::string split = "dev";
  std::string protocols = "label,loglik-norm";
  std::size_t shots = 0;
  std::vector<std::uint64_t> seeds = {1, 2, 3};
  std::size_t limit = 0;
  std::string out;
};

inline void add_eval_task_options(CLI::App& command, EvalTaskOptions& options) {
  command
      .add_option("--task", options.tasks, "Tasks: names separated by commas, or all, classification, multiple_choice")
      ->required();
  command.add_option("--split", options.split, "Split to evaluate (calib, dev)")->capture_default_str();
  command
      .add_option("--protocol", options.protocols,
                  "Protocols, comma separated: label (classification); letter, loglik, loglik-norm (multiple choice)")
      ->capture_default_str();
  command.add_option("--shots", options.shots, "Demonstrations per prompt, drawn from the calib split")
      ->check(whole_number_from(0))
      ->capture_default_str();
  add_list_option(command, "--seeds", options.seeds, "Demonstration seeds (k-shot; accuracy is their mean)",
                  seed_number());
  command.add_option("--limit", options.limit, "Only the first N rows of each split (0: all)")
      ->check(whole_number_from(0));
  command.add_option("-o,--out", options.out, "Result file (JSON)")->check(non_empty_path());
}

// The tasks and protocols asked for; throws for an unknown name, a protocol a task cannot use or
// --shots without seeds, before anything is loaded.
struct EvalPlan {
  std::vector<const act::eval::Task*> tasks;
  std::vector<act::eval::Protocol> protocols;
};

inline EvalPlan plan_evaluation(const EvalTaskOptions& options) {
  EvalPlan plan{act::eval::parse_task_list(options.tasks), act::eval::parse_protocol_list(options.protocols)};
  for (const auto* task : plan.tasks) act::eval::protocols_for(*task, plan.protocols);
  if (options.shots > 0 && options.seeds.empty()) throw act::Error("--shots needs at least one --seeds value");
  return plan;
}

// The evaluated rows of one task (never none: an accuracy over no rows would print as 0.0000 and
// look like a result) and, for k-shot runs, the calib rows demonstrations are drawn from.
struct TaskRows {
  std::vector<act::eval::Example> rows, pool;
};

inline TaskRows load_task_rows(const DataOptions& data, const EvalTaskOptions& options, const act::eval::Task& task) {
  TaskRows loaded{load_split(data, task, options.split, options.limit), {}};
  if (loaded.rows.empty())
    throw act::Error("the " + options.split + " split of " + std::string(task.name) + " has no rows");
  if (options.shots > 0) loaded.pool = load_split(data, task, "calib");
  return loaded;
}

// One line per result on stdout, flushed so a long run shows each task as it ends.
inline void print_task_result(const act::eval::Task& task, const act::eval::TaskResult& result, std::size_t rows) {
  std::printf("%-14s %-11s %zu rows  accuracy %.4f\n", std::string(task.name).c_str(),
              std::string(act::eval::protocol_name(result.protocol)).c_str(), rows, result.accuracy());
  std::fflush(stdout);
}

inline std::filesystem::path model_path(const CommonOptions& options) {
  return options.model.empty() ? default_model_path() : std::filesystem::path(options.model);
}

}  // namespace act_llama
