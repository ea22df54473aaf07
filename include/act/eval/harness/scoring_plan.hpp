#pragma once
// What to run and what to read for one example: the token sequences (one for label and letter,
// one per choice for the log-likelihood protocols) and, per choice, which next-token
// log-probabilities make up its score. Built once per example; the model part only runs it.
#include <act/eval/tasks/demonstrations.hpp>
#include <act/eval/tasks/prompt.hpp>
#include <act/eval/tasks/protocol.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <string>
#include <vector>

namespace act::eval {

// The tokenizer calls evaluation needs (act::text::Tokenizer has them). encode(text, true) adds
// BOS when the vocabulary asks for it.
template <class T>
concept TextTokenizer = requires(const T& t, std::string_view text, std::int32_t id) {
  { t.encode(text, true) } -> std::convertible_to<std::vector<std::int32_t>>;
  { t.token_text(id) } -> std::convertible_to<std::string>;
  { t.size() } -> std::convertible_to<std::size_t>;
};

// log p(token | sequence[0..row]) is read from the logits at `row`.
struct TokenRead {
  std::uint32_t sequence = 0;
  std::uint32_t row = 0;
  std::int32_t token = 0;
};

enum class ScoreRule {
  restricted,  // one row; log-softmax over the choices' tokens only (label, letter)
  sum,         // summed full log-softmax (loglik)
  token_mean,  // summed, divided by the number of tokens read (loglik-norm)
};

struct ScoringPlan {
  std::string example_id;
  std::size_t label = 0;
  ScoreRule rule = ScoreRule::restricted;
  std::vector<std::vector<std::int32_t>> sequences;
  std::vector<std::vector<TokenRead>> choices;
  // Letter protocol: the token ids that count as answering each choice when generated greedily.
  // Empty for the other protocols (prediction = best score).
  std::vector<std::vector<std::int32_t>> greedy_tokens;

  // Per sequence: the contiguous rows [first, first + count) whose logits the reads need.
  struct RowRange {
    std::uint32_t first = 0;
    std::uint32_t count = 0;
  };
  std::vector<RowRange> row_ranges() const {
    std::vector<RowRange> ranges(sequences.size());
    std::vector<bool> seen(sequences.size(), false);
    for (const auto& reads : choices)
      for (const TokenRead& r : reads) {
        RowRange& range = ranges.at(r.sequence);
        if (!seen[r.sequence]) {
          range = {r.row, 1};
          seen[r.sequence] = true;
        }
        const std::uint32_t end = std::max(range.first + range.count, r.row + 1);
        range.first = std::min(range.first, r.row);
        range.count = end - range.first;
      }
    return ranges;
  }
};

// Per class, the last token of the label word's tokenisation (the reference's rule). Throws
// act::Error for a word that tokenises to nothing or two words that end in the same token.
template <TextTokenizer Tok>
std::vector<std::int32_t> label_tokens(const Tok& tokenizer, const Task& task) {
  std::vector<std::int32_t> ids;
  for (std::string_view word : task.label_words) {
    const std::vector<std::int32_t> pieces = tokenizer.encode(word, false);
    if (pieces.empty())
      throw Error("act: label word \"" + std::string(word) + "\" of task " + std::string(task.name) +
                  " tokenises to nothing");
    if (std::find(ids.begin(), ids.end(), pieces.back()) != ids.end())
      throw Error("act: label words of task " + std::string(task.name) + " share their last token; \"" +
                  std::string(word) + "\" cannot be told apart");
    ids.push_back(pieces.back());
  }
  return ids;
}

// Letter protocol: for each letter, the tokens whose text is that letter up to surrounding
// whitespace (" A", "A", "\nA"); the first of them is the one scored, preferring " A".
template <TextTokenizer Tok>
std::vector<std::vector<std::int32_t>> letter_tokens(const Tok& tokenizer, std::size_t letters) {
  std::vector<std::vector<std::int32_t>> out(letters);
  for (std::size_t id = 0; id < tokenizer.size(); ++id) {
    const std::string text = tokenizer.token_text(static_cast<std::int32_t>(id));
    const auto first = text.find_first_not_of(" \t\n\r");
    const auto last = text.find_last_not_of(" \t\n\r");
    if (first == std::string::npos || first != last) continue;
    const char c = text[first];
    if (c < 'A' || static_cast<std::size_t>(c - 'A') >= letters) continue;
    auto& list = out[static_cast<std::size_t>(c - 'A')];
    if (text == std::string(" ") + c) {
      list.insert(list.begin(), static_cast<std::int32_t>(id));
    } else {
      list.push_back(static_cast<std::int32_t>(id));
    }
  }
  for (std::size_t i = 0; i < letters; ++i)
    if (out[i].empty()) throw Error(std::string("act: the vocabulary has no token for the letter ") + choice_letter(i));
  return out;
}

// Token tables a protocol needs, computed once per task.
struct TaskTokens {
  std::vector<std::int32_t> labels;                // label protocol
  std::vector<std::vector<std::int32_t>> letters;  // letter protocol
};

template <TextTokenizer Tok>
TaskTokens task_tokens(const Tok& tokenizer, const Task& task, Protocol protocol) {
  TaskTokens t;
  if (protocol == Protocol::label) t.labels = label_tokens(tokenizer, task);
  if (protocol == Protocol::letter) t.letters = letter_tokens(tokenizer, max_choices);
  return t;
}

namespace detail {

inline std::uint32_t last_row(const std::vector<std::int32_t>& tokens) {
  if (tokens.empty()) throw Error("act: prompt tokenises to nothing");
  return static_cast<std::uint32_t>(tokens.size() - 1);
}

}  // namespace detail

template <TextTokenizer Tok>
ScoringPlan make_plan(const Tok& tokenizer, const Task& task, Protocol protocol, const TaskTokens& tokens,
                      const Example& ex, std::span<const Example> demos = {}) {
  if (!protocol_applies(protocol, task.kind))
    throw Error("act: protocol " + std::string(protocol_name(protocol)) + " does not apply to task " +
                std::string(task.name));
  ScoringPlan plan;
  plan.example_id = ex.id;
  plan.label = ex.label;
  if (protocol == Protocol::label || protocol == Protocol::letter) {
    const std::string prompt =
        protocol == Protocol::label ? classification_prompt(task, ex, demos) : letter_prompt(task, ex, demos);
    plan.sequences.push_back(tokenizer.encode(prompt, true));
    const std::uint32_t row = detail::last_row(plan.sequences[0]);
    const std::size_t count = protocol == Protocol::label ? tokens.labels.size() : ex.choices.size();
    for (std::size_t c = 0; c < count; ++c) {
      const std::int32_t token = protocol == Protocol::label ? tokens.labels.at(c) : tokens.letters.at(c).front();
      plan.choices.push_back({{0, row, token}});
      if (protocol == Protocol::letter) plan.greedy_tokens.push_back(tokens.letters.at(c));
    }
    return plan;
  }
  plan.rule = protocol == Protocol::loglik ? ScoreRule::sum : ScoreRule::token_mean;
  const std::vector<std::int32_t> context = tokenizer.encode(loglik_context(task, ex, demos), true);
  const std::uint32_t context_end = detail::last_row(context);
  for (std::size_t c = 0; c < ex.choices.size(); ++c) {
    const std::vector<std::int32_t> tail = tokenizer.encode(continuation(task, ex.choices[c]), false);
    if (tail.empty())
      throw Error("act: choice " + std::to_string(c) + " of example " + ex.id + " tokenises to nothing");
    std::vector<std::int32_t> sequence = context;
    sequence.insert(sequence.end(), tail.begin(), tail.end());
    std::vector<TokenRead> reads;
    for (std::size_t i = 0; i < tail.size(); ++i)
      reads.push_back({static_cast<std::uint32_t>(c), context_end + static_cast<std::uint32_t>(i), tail[i]});
    plan.sequences.push_back(std::move(sequence));
    plan.choices.push_back(std::move(reads));
  }
  return plan;
}

}  // namespace act::eval
