#pragma once
// How an example is scored:
//   label        classification: log-softmax of the next-token logits restricted to the label words
//   letter       multiple choice, the reference protocol: one greedy token after "Answer:", right when
//                it decodes (spaces trimmed) to the right letter
//   loglik       multiple choice: summed log-probability of each choice's continuation
//   loglik-norm  the same divided by the continuation's token count
#include <act/core/error.hpp>
#include <act/eval/tasks/task.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace act::eval {

enum class Protocol { label, letter, loglik, loglik_norm };

inline constexpr Protocol all_protocols[] = {Protocol::label, Protocol::letter, Protocol::loglik,
                                             Protocol::loglik_norm};

inline std::string_view protocol_name(Protocol p) {
  switch (p) {
    case Protocol::label: return "label";
    case Protocol::letter: return "letter";
    case Protocol::loglik: return "loglik";
    case Protocol::loglik_norm: return "loglik-norm";
  }
  return "?";
}

inline bool protocol_applies(Protocol p, TaskKind kind) {
  return (p == Protocol::label) == (kind == TaskKind::classification);
}

inline Protocol parse_protocol(std::string_view name) {
  for (Protocol p : all_protocols)
    if (protocol_name(p) == name) return p;
  throw Error("act: unknown protocol '" + std::string(name) + "' (known: label, letter, loglik, loglik-norm)");
}

// A comma-separated list, e.g. "label,loglik-norm".
inline std::vector<Protocol> parse_protocol_list(std::string_view list) {
  std::vector<Protocol> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const Protocol p = parse_protocol(list.substr(start, comma - start));
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    start = comma + 1;
  }
  return out;
}

// The protocols of `wanted` that fit the task; an error when none does.
inline std::vector<Protocol> protocols_for(const Task& task, const std::vector<Protocol>& wanted) {
  std::vector<Protocol> out;
  for (Protocol p : wanted)
    if (protocol_applies(p, task.kind)) out.push_back(p);
  if (out.empty())
    throw Error("act: none of the requested protocols applies to task '" + std::string(task.name) + "' (" +
                (task.kind == TaskKind::classification ? "classification: label"
                                                       : "multiple choice: letter, loglik or loglik-norm") +
                ")");
  return out;
}

}  // namespace act::eval
