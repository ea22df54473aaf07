// act-llama sinks: where the attention sinks are. For one prompt: every head's sinks with their
// tokens and column means; for a task: how often heads have sinks beyond the first token and
// which tokens they are. With --act-heads: which sinks that head set calibrates, on how many rows,
// and the sink mass before and after. Optionally SVG figures (--figures DIR).
#include "eval_common.hpp"
#include "png_writer.hpp"
#include "subcommands.hpp"

#include <act/core/files.hpp>
#include <act/eval/inspect/attention_map.hpp>
#include <act/eval/inspect/calibrated_sinks.hpp>
#include <act/eval/inspect/sink_stats.hpp>
#include <act/eval/inspect/svg_figures.hpp>
#include <act/eval/tasks/prompt.hpp>

#include <cstdio>
#include <memory>
#include <mutex>

namespace act_llama {
namespace {

struct SinksOptions {
  CommonOptions common;
  DataOptions data;
  std::string prompt;
  std::string task;
  std::string split = "dev";
  std::size_t limit = 20;
  std::string heads;
  std::string figures;
  std::size_t top = 20;
  std::string out;
};

// "3:5,4:0" -> heads (3, 5) and (4, 0), checked against the model.
std::vector<act::HeadId> parse_heads(const std::string& text, const act::model::LlamaConfig& c) {
  std::vector<act::HeadId> heads;
  if (text.empty()) return heads;
  for (const std::string& item : CLI::detail::split(text, ',')) {
    const auto colon = item.find(':');
    const std::string expected = "a layer:head pair (e.g. 3:5)";
    if (colon == std::string::npos) throw act::Error("--heads: '" + item + "' is not " + expected);
    const act::HeadId id{parse_index(item.substr(0, colon), "--heads", expected),
                         parse_index(item.substr(colon + 1), "--heads", expected)};
    if (id.layer >= c.layers || id.head >= c.heads)
      throw act::Error("--heads: " + item + " is outside the model (" + std::to_string(c.layers) + " layers of " +
                       std::to_string(c.heads) + " heads)");
    heads.push_back(id);
  }
  return heads;
}

// The prompt text a task's example is evaluated with (label or letter protocol).
std::string task_prompt(const act::eval::Task& task, const act::eval::Example& ex) {
  return task.kind == act::eval::TaskKind::classification ? act::eval::classification_prompt(task, ex)
                                                          : act::eval::letter_prompt(task, ex);
}

void print_head(const act::eval::HeadSinkReport& r) {
  std::printf("L%-2u H%-2u", r.id.layer, r.id.head);
  for (const auto& s : r.candidates) {
    const bool calibrated = std::binary_search(r.calibrated.begin(), r.calibrated.end(), s.column);
    std::printf("  %s%u:'%s' %.3f", calibrated ? "*" : "", s.column, s.token.c_str(), s.mean);
  }
  std::printf("\n");
}

nlohmann::json head_json(const act::eval::HeadSinkReport& r) {
  nlohmann::json sinks = nlohmann::json::array();
  for (const auto& s : r.candidates) sinks.push_back({{"column", s.column}, {"token", s.token}, {"mean", s.mean}});
  return {{"layer", r.id.layer}, {"head", r.id.head}, {"candidates", sinks}, {"calibrated", r.calibrated}};
}

// The head set's heads, or --heads when given.
std::vector<act::HeadId> drawn_heads(const std::vector<act::HeadId>& chosen, const act::model::ActSettings& act) {
  return chosen.empty() ? act.heads().heads() : chosen;
}

// printable() text of each token.
std::vector<std::string> token_texts(const act::model::LlamaModel& m, const std::vector<std::int32_t>& tokens) {
  std::vector<std::string> texts;
  for (const std::int32_t t : tokens) texts.push_back(act::eval::printable(m.tokenizer().token_text(t)));
  return texts;
}

// overview.svg and head_L_H.svg for one prompt, before and after `act`.
void write_figures(const SinksOptions& o, const act::model::LlamaModel& m, const std::vector<std::int32_t>& tokens,
                   const std::vector<act::HeadId>& heads, const act::model::ActSettings& act, std::string_view what) {
  if (o.figures.empty()) return;
  std::filesystem::create_directories(o.figures);
  const auto before = act::eval::attention_maps(m, tokens);
  const auto after = act::eval::attention_maps(m, tokens, act);
  const std::filesystem::path dir = o.figures;
  const std::string title = m.name() + ", " + std::string(what) + " (" + std::to_string(tokens.size()) + " tokens)";
  act::write_file_atomically(dir / "overview.svg",
                             act::eval::overview_svg(before, after, act.heads(), title, encode_png));
  std::vector<std::string> labels = token_texts(m, tokens);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = act::eval::token_label(labels[i], i);
  for (const auto& id : heads) {
    const auto name = "head_" + std::to_string(id.layer) + "_" + std::to_string(id.head) + ".svg";
    act::write_file_atomically(dir / name, act::eval::head_svg(before[id.layer][id.head], after[id.layer][id.head], id,
                                                               labels, act.calibration().text(), encode_png));
  }
  std::printf("figures in %s: overview.svg%s\n", o.figures.c_str(), heads.empty() ? "" : " and head_L_H.svg per head");
}

void print_calibrated(const act::eval::CalibratedSinkSummary& s, std::size_t top) {
  std::printf("calibrated sinks of the head set (%s), %zu prompts x heads:\n", s.heads().calibration().text().c_str(),
              s.pairs());
  std::printf("  share of (prompt, head) pairs with calibrated sinks %.3f; share of rows calibrated %.3f\n",
              s.share_of_pairs_with_sinks(), s.share_of_rows_calibrated());
  std::printf("  mean sink mass of calibrated rows: before ACT %.3f, after %.3f\n", s.mean_sink_mass_before(),
              s.mean_sink_mass_after());
  std::printf("  calibrated sink tokens (columns; at position 0 / interior / last):");
  for (const auto& t : s.top_tokens(top))
    std::printf(" '%s' %zu (%zu/%zu/%zu)", t.token.c_str(), t.count, t.initial, t.interior, t.final);
  std::printf("\n");
}

// Adds one prompt to `summary` (maps without and with the head set).
void add_calibrated(act::eval::CalibratedSinkSummary& summary, const act::model::LlamaModel& m,
                    const std::vector<std::int32_t>& tokens, const act::model::ActSettings& act) {
  summary.add(act::eval::attention_maps(m, tokens), act::eval::attention_maps(m, tokens, act), token_texts(m, tokens));
}

// What a run observes (the detector, with tau for listing candidate columns) and calibrates.
struct SinksSetup {
  act::model::ActSettings act;  // from --act-heads; empty: nothing calibrated
  act::AnyDetector detector;
  float tau = 0.1f;
};

SinksSetup sinks_setup(const CommonOptions& common, const std::string& model_name) {
  act::model::ActSettings act = act_settings(common, model_name);
  const act::AnyCalibration calibration =
      act.enabled() ? act.calibration() : chosen_calibration(common, act::AnyCalibration::paper());
  const auto* column_mean = std::get_if<act::ColumnMeanThreshold>(&calibration.detector);
  return {std::move(act), calibration.detector, column_mean != nullptr ? column_mean->tau : common.tau.value_or(0.1f)};
}

// The calibrated-sink summary (only with a head set): printed, charted, and returned as JSON.
nlohmann::json report_calibrated(const SinksOptions& o, const act::eval::CalibratedSinkSummary& summary,
                                 std::string_view what) {
  print_calibrated(summary, o.top);
  if (!o.figures.empty()) {
    std::filesystem::create_directories(o.figures);
    const std::string title = "Most frequent non-initial sinks ACT calibrates: " + std::string(what);
    act::write_file_atomically(std::filesystem::path(o.figures) / "sink_tokens.svg",
                               act::eval::sink_chart_svg(summary.top_tokens(o.top, true), title, summary.pairs()));
  }
  return summary.to_json(o.top);
}

void run_prompt(const SinksOptions& o, const act::model::LlamaModel& m, const SinksSetup& setup) {
  const auto heads = parse_heads(o.heads, m.config());
  const auto tokens = m.tokenizer().encode(o.prompt, true);
  if (tokens.empty()) throw act::Error("the prompt tokenises to nothing");
  check_fits_context(tokens.size(), context_limit(o.common, m), "the prompt");
  if (!o.figures.empty()) act::eval::check_attention_map_size(m.config(), tokens.size());  // fail before the work
  const auto reports = act::eval::describe_sinks(m.observe_sinks(tokens, setup.detector, o.common.threads), tokens,
                                                 m.tokenizer(), setup.tau);
  std::printf("%zu tokens:", tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i)
    std::printf(" %zu:'%s'", i, act::eval::printable(m.tokenizer().token_text(tokens[i])).c_str());
  std::printf("\nsinks (column mean > %.3g; * = chosen by %s) of %s:\n", static_cast<double>(setup.tau),
              act::policy_text(setup.detector).c_str(),
              heads.empty() ? "heads with sinks beyond token 0" : "the chosen heads");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : reports) {
    const bool chosen = heads.empty() ? (!r.candidates.empty() && r.candidates.back().column > 0)
                                      : std::find(heads.begin(), heads.end(), r.id) != heads.end();
    if (chosen) print_head(r);
    list.push_back(head_json(r));
  }
  nlohmann::json doc = {
      {"tau", setup.tau}, {"detector", act::policy_text(setup.detector)}, {"tokens", tokens}, {"heads", list}};
  if (setup.act.enabled()) {
    act::eval::CalibratedSinkSummary summary(setup.act.heads());
    add_calibrated(summary, m, tokens, setup.act);
    doc["calibrated"] = report_calibrated(o, summary, "one prompt");
  }
  write_figures(o, m, tokens, drawn_heads(heads, setup.act), setup.act, "one prompt");
  if (!o.out.empty()) write_json_file(o.out, doc);
}

void print_task_summary(const SinksOptions& o, const act::eval::SinkSummary& summary, const act::model::LlamaConfig& c,
                        float tau) {
  std::printf("%s/%s, %zu prompts, tau %.3g\n", o.task.c_str(), o.split.c_str(), summary.prompts(),
              static_cast<double>(tau));
  std::printf("share of (prompt, head) pairs with sinks between the first and the last token: %.3f\n",
              summary.share_with_interior());
  std::printf("share with a sink at the last token (a column seen by one query): %.3f\n", summary.share_with_final());
  std::printf("most frequent interior sink tokens:");
  for (const auto& [token, count] : summary.top_tokens(o.top)) std::printf(" '%s' %zu", token.c_str(), count);
  std::printf("\nper layer, share of prompts x heads with interior sinks:");
  for (std::size_t l = 0; l < c.layers; ++l) {
    double sum = 0.0;
    for (std::size_t h = 0; h < c.heads; ++h) sum += summary.head_share(l, h);
    std::printf(" %zu:%.2f", l, sum / static_cast<double>(c.heads));
  }
  std::printf("\n");
}

// The head set's calibrated sinks over every prompt (maps are per prompt: O(layers heads n^2) each).
act::eval::CalibratedSinkSummary calibrated_over(const SinksOptions& o, const act::model::LlamaModel& m,
                                                 const std::vector<std::vector<std::int32_t>>& prompts,
                                                 const act::model::ActSettings& act) {
  act::eval::CalibratedSinkSummary summary(act.heads());
  std::mutex adding;
  act::eval::ProgressStretch progress(progress_for(o.data), "calibrated sinks " + o.task, prompts.size());
  act::parallel::parallel_for(prompts.size(), o.common.threads, [&](std::size_t i) {
    auto before = act::eval::attention_maps(m, prompts[i]);
    auto after = act::eval::attention_maps(m, prompts[i], act);
    const std::lock_guard lock(adding);
    summary.add(before, after, token_texts(m, prompts[i]));
    progress.advance();
  });
  return summary;
}

void run_task(const SinksOptions& o, const act::model::LlamaModel& m, const SinksSetup& setup) {
  const auto& task = act::eval::find_task(o.task);
  const auto heads = parse_heads(o.heads, m.config());
  const auto rows = load_split(o.data, task, o.split, o.limit);
  const std::size_t context = context_limit(o.common, m);
  std::vector<std::vector<std::int32_t>> prompts;
  for (const auto& ex : rows) {
    prompts.push_back(m.tokenizer().encode(task_prompt(task, ex), true));
    check_fits_context(prompts.back().size(), context,
                       o.task + " " + o.split + " row " + std::to_string(prompts.size()));
  }
  if (prompts.empty()) throw act::Error("the " + o.split + " split of " + o.task + " has no rows");
  if (!o.figures.empty()) act::eval::check_attention_map_size(m.config(), prompts[0].size());
  std::vector<std::vector<act::eval::HeadSinkReport>> reports(prompts.size());
  {
    act::eval::ProgressStretch progress(progress_for(o.data), "sinks " + o.task, prompts.size());
    act::parallel::parallel_for(prompts.size(), o.common.threads, [&](std::size_t i) {
      reports[i] = act::eval::describe_sinks(m.observe_sinks(prompts[i], setup.detector, 1), prompts[i], m.tokenizer(),
                                             setup.tau);
      progress.advance();
    });
  }
  act::eval::SinkSummary summary(m.config().layers, m.config().heads, setup.tau);
  for (std::size_t i = 0; i < prompts.size(); ++i) summary.add(reports[i], prompts[i].size());
  print_task_summary(o, summary, m.config(), setup.tau);
  nlohmann::json doc = summary.to_json(o.top);
  if (setup.act.enabled())
    doc["calibrated"] = report_calibrated(o, calibrated_over(o, m, prompts, setup.act), o.task + "/" + o.split);
  if (!prompts.empty())
    write_figures(o, m, prompts[0], drawn_heads(heads, setup.act), setup.act, o.task + "/" + o.split + " prompt 0");
  if (!o.out.empty()) write_json_file(o.out, doc);
}

}  // namespace

void register_sinks(CLI::App& app) {
  auto o = std::make_shared<SinksOptions>();
  CLI::App* command = app.add_subcommand("sinks", "Attention sinks of a prompt or of a task's prompts, with pictures");
  add_common_options(*command, o->common);
  add_data_options(*command, o->data);
  auto* prompt = command->add_option("-p,--prompt", o->prompt, "One prompt (tokenised with BOS)");
  auto* task = command->add_option("--task", o->task, "Statistics over a task's prompts instead")->excludes(prompt);
  command->add_option("--split", o->split, "Split of --task")->capture_default_str();
  command->add_option("--limit", o->limit, "Prompts of --task")->check(whole_number_from(1))->capture_default_str();
  command->add_option("--heads", o->heads, "Heads to show (and draw), e.g. 3:5,4:0");
  command
      ->add_option("--figures", o->figures,
                   "Write SVG figures here: overview.svg, head_L_H.svg (--heads, else the head set's) and, with "
                   "--act-heads, sink_tokens.svg (for --task: maps of its first prompt)")
      ->check(non_empty_path());
  command->add_option("--top", o->top, "Sink tokens to list")->check(whole_number_from(1))->capture_default_str();
  command->add_option("-o,--out", o->out, "Also write the numbers as JSON")->check(non_empty_path());
  command->callback([o, prompt, task] {
    if (prompt->count() == 0 && task->count() == 0) throw act::Error("sinks needs -p PROMPT or --task NAME");
    check_output_path(o->out, "-o");
    const act::model::LlamaModel m = load_model(o->common);
    const SinksSetup setup = sinks_setup(o->common, m.name());
    setup.act.layer_masks(m.config().layers, m.config().heads);  // heads outside the model: fail now
    if (prompt->count() > 0) {
      run_prompt(*o, m, setup);
    } else {
      run_task(*o, m, setup);
    }
  });
}

}  // namespace act_llama
