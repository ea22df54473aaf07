#pragma once
// The JSON an evaluation writes: what was run (model and its sha256, head file, beta, tau, split,
// shots, seeds) and, per task and protocol, the accuracy (mean over seeds), each seed's counts
// and, on request, every example's scores.
#include <act/eval/harness/harness.hpp>
#include <act/heads/head_set.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace act::eval {

struct RunInfo {
  std::string model_name;
  std::string model_path;
  std::string model_sha256;
  std::string head_file;  // empty: no ACT
  std::size_t act_heads = 0;
  AnyCalibration calibration = AnyCalibration::paper();
  std::string split;
};

inline nlohmann::json outcome_json(const ExampleOutcome& o) {
  nlohmann::json predicted = o.predicted ? nlohmann::json(*o.predicted) : nlohmann::json(nullptr);
  return {{"id", o.id}, {"label", o.label}, {"predicted", predicted}, {"scores", o.scores}, {"margin", o.margin}};
}

inline nlohmann::json task_result_json(const TaskResult& r, bool per_example) {
  nlohmann::json runs = nlohmann::json::array();
  std::vector<std::uint64_t> seeds;
  for (const SeedRun& run : r.runs) {
    nlohmann::json entry = {{"seed", run.seed},
                            {"accuracy", run.tally.accuracy()},
                            {"correct", run.tally.correct},
                            {"unanswered", run.tally.unanswered},
                            {"mean_margin", run.tally.mean_margin()}};
    if (per_example) {
      entry["examples"] = nlohmann::json::array();
      for (const ExampleOutcome& o : run.outcomes) entry["examples"].push_back(outcome_json(o));
    }
    runs.push_back(entry);
    if (r.shots > 0) seeds.push_back(run.seed);
  }
  return {{"task", r.task->name},
          {"protocol", protocol_name(r.protocol)},
          {"shots", r.shots},
          {"seeds", seeds},
          {"rows", r.runs.empty() ? 0 : r.runs[0].tally.examples},
          {"accuracy", r.accuracy()},
          {"runs", runs}};
}

inline nlohmann::json results_json(const RunInfo& info, const std::vector<TaskResult>& results, bool per_example) {
  nlohmann::json list = nlohmann::json::array();
  for (const TaskResult& r : results) list.push_back(task_result_json(r, per_example));
  const bool act = !info.head_file.empty();
  HeadSet recorded;  // beta and tau for the paper's policy, as result files have always said
  recorded.set_calibration(info.calibration);
  const bool paper = act && !recorded.policy;
  return {{"format", "act-eval-results"},
          {"version", 1},
          {"model", {{"name", info.model_name}, {"path", info.model_path}, {"sha256", info.model_sha256}}},
          {"act",
           {{"head_file", act ? nlohmann::json(info.head_file) : nlohmann::json(nullptr)},
            {"heads", info.act_heads},
            {"beta", paper ? nlohmann::json(act::detail::shortest_decimal(recorded.beta)) : nlohmann::json(nullptr)},
            {"tau", paper ? nlohmann::json(act::detail::shortest_decimal(recorded.tau)) : nlohmann::json(nullptr)},
            {"policy", act ? nlohmann::json(info.calibration.text()) : nlohmann::json(nullptr)}}},
          {"split", info.split},
          {"results", list}};
}

}  // namespace act::eval
