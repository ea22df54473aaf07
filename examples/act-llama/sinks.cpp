// act-llama sinks: where the attention sinks are. For one prompt: every head's sinks with their
// tokens and column means; for a task: how often heads have sinks beyond the first token and
// which tokens they are. Optionally PNG pictures of the attention maps.
#include "eval_common.hpp"
#include "png_writer.hpp"
#include "subcommands.hpp"

#include <act/eval/inspect/attention_map.hpp>
#include <act/eval/tasks/prompt.hpp>
#include <act/eval/inspect/sink_stats.hpp>

#include <cstdio>
#include <memory>

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
  std::string png_dir;
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

void write_pictures(const SinksOptions& o, const act::model::LlamaModel& m, const std::vector<std::int32_t>& tokens,
                    const std::vector<act::HeadId>& heads, float tau) {
  if (o.png_dir.empty()) return;
  std::filesystem::create_directories(o.png_dir);
  const auto maps = act::eval::attention_maps(m, tokens);
  std::vector<std::vector<act::eval::SinkMarks>> marks(maps.size());
  for (std::size_t l = 0; l < maps.size(); ++l)
    for (const auto& map : maps[l]) marks[l].push_back(act::eval::sink_marks(map, tau));
  const std::filesystem::path dir = o.png_dir;
  write_png(dir / "overview.png", act::eval::overview(maps, marks));
  for (const auto& id : heads) {
    const auto name = "head_" + std::to_string(id.layer) + "_" + std::to_string(id.head) + ".png";
    write_png(dir / name, act::eval::heatmap(maps[id.layer][id.head], marks[id.layer][id.head]));
  }
  std::printf("pictures in %s: overview.png (rows: layers, columns: heads)%s; strip above each map: orange = kept "
              "first sink, red = sinks ACT rescales; colour: log10 weight from -4 (blue) to 0 (yellow)\n",
              o.png_dir.c_str(), heads.empty() ? "" : " and head_L_H.png per --heads head");
}

void run_prompt(const SinksOptions& o, const act::model::LlamaModel& m, float tau) {
  const auto heads = parse_heads(o.heads, m.config());
  const auto tokens = m.tokenizer().encode(o.prompt, true);
  if (tokens.empty()) throw act::Error("the prompt tokenises to nothing");
  check_fits_context(tokens.size(), context_limit(o.common, m), "the prompt");
  if (!o.png_dir.empty()) act::eval::check_attention_map_size(m.config(), tokens.size());  // fail before the work
  const auto reports =
      act::eval::describe_sinks(m.observe_sinks(tokens, tau, o.common.threads), tokens, m.tokenizer(), tau);
  std::printf("%zu tokens:", tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i)
    std::printf(" %zu:'%s'", i, act::eval::printable(m.tokenizer().token_text(tokens[i])).c_str());
  std::printf("\nsinks (column mean > %.3g; * = rescaled by ACT) of %s:\n", static_cast<double>(tau),
              heads.empty() ? "heads with sinks beyond token 0" : "the chosen heads");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : reports) {
    const bool chosen = heads.empty() ? (!r.candidates.empty() && r.candidates.back().column > 0)
                                      : std::find(heads.begin(), heads.end(), r.id) != heads.end();
    if (chosen) print_head(r);
    list.push_back(head_json(r));
  }
  write_pictures(o, m, tokens, heads, tau);
  if (!o.out.empty()) write_json_file(o.out, {{"tau", tau}, {"tokens", tokens}, {"heads", list}});
}

void run_task(const SinksOptions& o, const act::model::LlamaModel& m, float tau) {
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
  if (!o.png_dir.empty()) act::eval::check_attention_map_size(m.config(), prompts[0].size());
  std::vector<std::vector<act::eval::HeadSinkReport>> reports(prompts.size());
  {
    act::eval::ProgressStretch progress(progress_for(o.data), "sinks " + o.task, prompts.size());
    act::parallel::parallel_for(prompts.size(), o.common.threads, [&](std::size_t i) {
      reports[i] = act::eval::describe_sinks(m.observe_sinks(prompts[i], tau, 1), prompts[i], m.tokenizer(), tau);
      progress.advance();
    });
  }
  act::eval::SinkSummary summary(m.config().layers, m.config().heads, tau);
  for (std::size_t i = 0; i < prompts.size(); ++i) summary.add(reports[i], prompts[i].size());
  std::printf("%s/%s, %zu prompts, tau %.3g\n", o.task.c_str(), o.split.c_str(), summary.prompts(), static_cast<double>(tau));
  std::printf("share of (prompt, head) pairs with sinks between the first and the last token: %.3f\n",
              summary.share_with_interior());
  std::printf("share with a sink at the last token (a column seen by one query): %.3f\n", summary.share_with_final());
  std::printf("most frequent interior sink tokens:");
  for (const auto& [token, count] : summary.top_tokens(o.top)) std::printf(" '%s' %zu", token.c_str(), count);
  std::printf("\nper layer, share of prompts x heads with interior sinks:");
  for (std::size_t l = 0; l < m.config().layers; ++l) {
    double sum = 0.0;
    for (std::size_t h = 0; h < m.config().heads; ++h) sum += summary.head_share(l, h);
    std::printf(" %zu:%.2f", l, sum / static_cast<double>(m.config().heads));
  }
  std::printf("\n");
  write_pictures(o, m, prompts[0], heads, tau);
  if (!o.out.empty()) write_json_file(o.out, summary.to_json(o.top));
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
  command->add_option("--png-dir", o->png_dir, "Write overview.png and head_L_H.png here (for --task: its first prompt)");
  command->add_option("--top", o->top, "Sink tokens to list")->check(whole_number_from(1))->capture_default_str();
  command->add_option("-o,--out", o->out, "Also write the numbers as JSON");
  command->callback([o, prompt, task] {
    if (prompt->count() == 0 && task->count() == 0) throw act::Error("sinks needs -p PROMPT or --task NAME");
    check_output_path(o->out, "-o");
    const act::model::LlamaModel m = load_model(o->common);
    const float tau = o->common.tau.value_or(0.1f);
    if (prompt->count() > 0) {
      run_prompt(*o, m, tau);
    } else {
      run_task(*o, m, tau);
    }
  });
}

}  // namespace act_llama
