#pragma once
// One evaluation row, read from the data schema of shared/data (SOURCES.md): classification rows
// carry the text fields their task's template names and a 0-based label; multiple-choice rows a
// question, choices and the index of the right one. COPA's premise becomes "premise because" or
// "premise so", the question the choices complete.
#include <act/eval/tasks/task.hpp>
#include <act/io/jsonl.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace act::eval {

inline constexpr std::size_t max_choices = 26;  // one letter each

struct Example {
  std::string id;
  std::map<std::string, std::string, std::less<>> fields;  // what templates refer to as {name}
  std::vector<std::string> choices;                        // multiple choice only
  std::size_t label = 0;
};

namespace detail {

// The {name} placeholders of a template, in order.
inline std::vector<std::string> placeholders(std::string_view pattern) {
  std::vector<std::string> names;
  for (std::size_t open = pattern.find('{'); open != std::string_view::npos; open = pattern.find('{', open + 1)) {
    const std::size_t close = pattern.find('}', open);
    if (close == std::string_view::npos) break;
    names.emplace_back(pattern.substr(open + 1, close - open - 1));
  }
  return names;
}

inline std::string copa_question(const io::JsonlRecord& row) {
  std::string premise = row.string("question");
  while (!premise.empty() && (premise.back() == '.' || premise.back() == ' ')) premise.pop_back();
  const std::string relation = row.string("relation");
  if (relation == "cause") return premise + " because";
  if (relation == "effect") return premise + " so";
  row.fail("field \"relation\" must be \"cause\" or \"effect\" (got \"" + relation + "\")");
}

}  // namespace detail

// Throws act::FormatError naming file and line for a row that does not fit the task.
inline Example parse_example(const Task& task, const io::JsonlRecord& row) {
  Example ex;
  ex.id = row.string("id");
  for (const std::string& name : detail::placeholders(task.pattern)) ex.fields[name] = row.string(name);
  if (task.kind == TaskKind::classification) {
    ex.label = row.index("label", task.label_words.size());
    return ex;
  }
  ex.choices = row.strings("choices");
  if (ex.choices.size() < 2 || ex.choices.size() > max_choices)
    row.fail("field \"choices\" must hold 2 to " + std::to_string(max_choices) + " strings (got " +
             std::to_string(ex.choices.size()) + ")");
  ex.label = row.index("label", ex.choices.size());
  if (task.name == "copa") ex.fields["question"] = detail::copa_question(row);
  return ex;
}

inline std::vector<Example> load_examples(const Task& task, const std::filesystem::path& file) {
  io::JsonlReader reader(file);
  std::vector<Example> out;
  while (auto row = reader.next()) out.push_back(parse_example(task, *row));
  return out;
}

// data_dir/<task>/<split>.jsonl, the layout of shared/data.
inline std::filesystem::path split_path(const std::filesystem::path& data_dir, const Task& task,
                                        std::string_view split) {
  return data_dir / std::string(task.name) / (std::string(split) + ".jsonl");
}

}  // namespace act::eval
