#pragma once
// The 16 evaluation tasks: how each one is worded. Classification tasks have an instruction, a
// template with {field} placeholders and one label word per class (the spec's wording for SST-2,
// TREC, AGNews, CB and BoolQ; ours, in the same style, for the rest). Multiple-choice tasks have
// an instruction and a context template used by the log-likelihood protocol.
#include <act/core/error.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace act::eval {

enum class TaskKind { classification, multiple_choice };

struct Task {
  std::string_view name;
  TaskKind kind;
  // Classification: ends in "\n\n" as in the spec. Multiple choice: the prompt adds "\n\n".
  std::string_view instruction;
  // Classification: the query ("Sentence: {text} \nSentiment: ").
  // Multiple choice: the log-likelihood context ("Question: {question}\nAnswer:").
  std::string_view pattern;
  std::vector<std::string_view> label_words;  // classification only, in label order
  bool wording_from_spec = false;
  // Multiple choice: continuations continue a sentence, so "The man left." becomes "the man left.".
  bool lowercase_continuation = false;
};

namespace detail {

inline const std::vector<Task>& task_table() {
  using K = TaskKind;
  // One task per entry, laid out by hand: clang-format would put every field on its own line.
  // clang-format off
  static const std::vector<Task> tasks = {
      {"sst2", K::classification,
       "Classify the sentiment of the user's message into one of the following categories:'positive' or "
       "'negative'.\n\n",
       "Sentence: {text} \nSentiment: ", {" negative", " positive"}, true},
      {"sst5", K::classification,
       "Classify the sentiment of the user's message into one of the following categories:'terrible', 'bad', "
       "'okay', 'good' or 'great'.\n\n",
       "Sentence: {text} \nSentiment: ", {" terrible", " bad", " okay", " good", " great"}},
      {"mr", K::classification,
       "Classify the sentiment of the movie review into one of the following categories:'positive' or "
       "'negative'.\n\n",
       "Review: {text} \nSentiment: ", {" negative", " positive"}},
      {"subj", K::classification,
       "Classify the sentences into one of the following categories:'objective' or 'subjective'.\n\n",
       "Input: {text} \nType: ", {" objective", " subjective"}},
      {"agnews", K::classification,
       "Classify the news articles into the categories of 'World', 'Sports', 'Business', or 'Technology'.\n\n",
       "Article: {text} \nCategory: ", {" World", " Sports", " Business", " Technology"}, true},
      {"trec", K::classification,
       "Classify the given questions into the following categories of 'Description', 'Entity', 'Expression', "
       "'Person', 'Number', or 'Location'.\n\n",
       "Question: {text} \nType: ", {" Description", " Entity", " Expression", " Person", " Number", " Location"},
       true},
      {"cb", K::classification, "Read the following paragraph and determine if the hypothesis is true.\n\n",
       "Premise: {premise} Hypothesis: {hypothesis}. Answer: ", {"Yes", "No", "Maybe"}, true},
      {"boolq", K::classification, "Read the text and answer the question by True or False.\n\n",
       "Text: {passage} Question: {question}? \nAnswer: ", {" False", " True"}, true},
      {"dbpedia", K::classification,
       "Classify the documents into the categories of 'Company', 'School', 'Artist', 'Athlete', 'Politician', "
       "'Transportation', 'Building', 'Nature', 'Village', 'Animal', 'Plant', 'Album', 'Film', or 'Book'.\n\n",
       "Article: {text} \nCategory: ",
       {" Company", " School", " Artist", " Athlete", " Politician", " Transportation", " Building", " Nature",
        " Village", " Animal", " Plant", " Album", " Film", " Book"}},
      {"arc_easy", K::multiple_choice, "Answer the following science question by choosing the correct option.",
       "Question: {question}\nAnswer:", {}},
      {"arc_challenge", K::multiple_choice,
       "Answer the following science question by choosing the correct option.", "Question: {question}\nAnswer:", {}},
      {"piqa", K::multiple_choice, "Choose the more sensible solution to reach the following goal.",
       "Question: {question}\nAnswer:", {}},
      {"openbookqa", K::multiple_choice,
       "Answer the following question about elementary science by choosing the correct option.",
       "Question: {question}\nAnswer:", {}},
      {"commonsenseqa", K::multiple_choice,
       "Answer the following commonsense question by choosing the correct option.", "Question: {question}\nAnswer:",
       {}},
      {"hellaswag", K::multiple_choice, "Choose the most plausible continuation of the following text.",
       "{question}", {}},
      {"copa", K::multiple_choice, "Choose the more plausible cause or effect to complete the following sentence.",
       "{question}", {}, false, true},
  };
  // clang-format on
  return tasks;
}

}  // namespace detail

inline const std::vector<Task>& all_tasks() { return detail::task_table(); }

inline std::string known_task_names() {
  std::string names;
  for (const Task& t : all_tasks()) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

// Throws act::Error listing the known names when `name` is not one of them.
inline const Task& find_task(std::string_view name) {
  for (const Task& t : all_tasks())
    if (t.name == name) return t;
  throw Error("act: unknown task '" + std::string(name) + "' (known: " + known_task_names() + ")");
}

// "all", "classification", "multiple_choice" or a comma-separated list of task names.
inline std::vector<const Task*> parse_task_list(std::string_view list) {
  std::vector<const Task*> out;
  const auto add_kind = [&](TaskKind kind) {
    for (const Task& t : all_tasks())
      if (t.kind == kind) out.push_back(&t);
  };
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, comma - start);
    if (item == "all") {
      for (const Task& t : all_tasks()) out.push_back(&t);
    } else if (item == "classification") {
      add_kind(TaskKind::classification);
    } else if (item == "multiple_choice") {
      add_kind(TaskKind::multiple_choice);
    } else {
      out.push_back(&find_task(item));
    }
    start = comma + 1;
  }
  std::vector<const Task*> unique;
  for (const Task* t : out)
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(t);
  return unique;
}

}  // namespace act::eval
