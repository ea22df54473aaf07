#pragma once
// Prompt text for each protocol, with optional demonstrations (k-shot):
//   classification: instruction + demos + template(example)           demo = template + answer + "\n\n"
//   letter:         instruction + "\n\n" + demos + question + "\nA. ..." lines + "\nAnswer:"
//                                                                      demo = same block + " B\n\n"
//   log-likelihood: instruction + "\n\n" + demos + context; each choice continues it as " " + choice
//                                                                      demo = context + right choice + "\n\n"
// A classification demo's answer is its label word without the leading space when the template
// already ends in one, so "Sentiment: " + " positive" reads "Sentiment: positive".
#include <act/eval/tasks/example.hpp>

#include <span>
#include <string>

namespace act::eval {

// Replaces each {name} by the field's value. Inserted values are not scanned again, so braces in
// the data are harmless. Throws act::Error for a placeholder the example lacks.
inline std::string fill_template(std::string_view pattern, const Example& ex) {
  std::string out;
  std::size_t at = 0;
  while (at < pattern.size()) {
    const std::size_t open = pattern.find('{', at);
    const std::size_t close = open == std::string_view::npos ? open : pattern.find('}', open);
    if (close == std::string_view::npos) {
      out.append(pattern.substr(at));
      break;
    }
    out.append(pattern.substr(at, open - at));
    const std::string_view name = pattern.substr(open + 1, close - open - 1);
    const auto field = ex.fields.find(name);
    if (field == ex.fields.end())
      throw Error("act: example " + ex.id + " has no field \"" + std::string(name) + "\" for its template");
    out.append(field->second);
    at = close + 1;
  }
  return out;
}

inline char choice_letter(std::size_t index) { return static_cast<char>('A' + index); }

inline std::string classification_query(const Task& task, const Example& ex) { return fill_template(task.pattern, ex); }

inline std::string classification_demo(const Task& task, const Example& ex) {
  const std::string query = classification_query(task, ex);
  std::string_view answer = task.label_words.at(ex.label);
  if (!query.empty() && query.back() == ' ' && answer.starts_with(' ')) answer.remove_prefix(1);
  return query + std::string(answer) + "\n\n";
}

inline std::string classification_prompt(const Task& task, const Example& ex, std::span<const Example> demos = {}) {
  std::string prompt(task.instruction);
  for (const Example& d : demos) prompt += classification_demo(task, d);
  return prompt + classification_query(task, ex);
}

// The question followed by one "\nA. choice" line per choice.
inline std::string letter_block(const Example& ex) {
  std::string block = ex.fields.at("question");
  for (std::size_t i = 0; i < ex.choices.size(); ++i)
    block += std::string("\n") + choice_letter(i) + ". " + ex.choices[i];
  return block;
}

inline std::string letter_prompt(const Task& task, const Example& ex, std::span<const Example> demos = {}) {
  std::string prompt = std::string(task.instruction) + "\n\n";
  for (const Example& d : demos) prompt += letter_block(d) + "\nAnswer: " + choice_letter(d.label) + "\n\n";
  return prompt + letter_block(ex) + "\nAnswer:";
}

// " " + choice, with the first letter lowered where the task continues a sentence. A leading
// "I" stays (the next character is not a lower-case letter).
inline std::string continuation(const Task& task, std::string_view choice) {
  std::string text(1, ' ');
  text += choice;
  const bool lower = task.lowercase_continuation && text.size() > 2 && text[1] >= 'A' && text[1] <= 'Z' &&
                     text[2] >= 'a' && text[2] <= 'z';
  if (lower) text[1] = static_cast<char>(text[1] - 'A' + 'a');
  return text;
}

inline std::string loglik_context(const Task& task, const Example& ex, std::span<const Example> demos = {}) {
  std::string prompt = std::string(task.instruction) + "\n\n";
  for (const Example& d : demos)
    prompt += fill_template(task.pattern, d) + continuation(task, d.choices.at(d.label)) + "\n\n";
  return prompt + fill_template(task.pattern, ex);
}

}  // namespace act::eval
