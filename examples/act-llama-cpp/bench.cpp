// act-llama-cpp bench: llama.cpp's speed with and without ACT in the same process, alternating
// the two so that the machine's load drifts over both alike: prefill of a prompt of --prefill
// tokens, then --decode single-token steps. Prints median tokens/s of each and the median of
// the per-repeat ACT/plain time ratios.
#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

namespace act_llama_cpp {
namespace {

struct BenchOptions {
  EngineFlags engine;
  std::size_t prefill = 256;
  std::size_t decode = 64;
  std::size_t repeats = 3;
};

struct Timing {
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One prefill and the decode steps after it; the decoded tokens are fixed (not sampled) so that
// both engines do the same work.
Timing time_once(Engine& engine, const std::vector<std::int32_t>& prompt, std::size_t steps) {
  Timing t;
  engine.start_sequence();
  auto start = std::chrono::steady_clock::now();
  engine.decode(prompt, prompt.size() - 1, 1);
  t.prefill_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < steps; ++i) engine.decode(std::span(&prompt[i % prompt.size()], 1), 0, 1);
  t.decode_seconds = seconds_since(start);
  return t;
}

// Each repeat's seconds; medians resist the foreign load of a shared machine better than sums.
struct Samples {
  std::vector<double> prefill, decode;
  void add(const Timing& t) {
    prefill.push_back(t.prefill_seconds);
    decode.push_back(t.decode_seconds);
  }
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Per repeat, ACT's time over the plain run's just before it: pairs share the load of their moment.
std::vector<double> paired_ratios(const std::vector<double>& act, const std::vector<double>& plain) {
  std::vector<double> ratios;
  for (std::size_t r = 0; r < act.size(); ++r) ratios.push_back(act[r] / plain[r]);
  return ratios;
}

void report(const char* name, const Samples& s, const BenchOptions& o) {
  std::printf("%-6s prefill %zu tokens: %8.1f tok/s   decode %zu tokens: %7.1f tok/s (medians)\n", name, o.prefill,
              static_cast<double>(o.prefill) / median(s.prefill), o.decode,
              static_cast<double>(o.decode) / median(s.decode));
}

void run_bench(const BenchOptions& o) {
  if (o.engine.common.act_heads.empty()) throw act::Error("bench compares with and without ACT: pass --act-heads");
  if (o.prefill + o.decode > o.engine.common.context) throw act::Error("--prefill + --decode exceeds --ctx");
  EngineFlags plain_flags = o.engine;
  plain_flags.common.act_heads.clear();
  Engine plain = make_engine(plain_flags);
  Engine with_act = make_engine(o.engine);
  std::vector<std::int32_t> prompt(o.prefill);
  for (std::size_t i = 0; i < prompt.size(); ++i)  // fixed, valid ids spread over the vocabulary
    prompt[i] = static_cast<std::int32_t>((i * 7919 + 17) % plain.vocab_size());
  time_once(plain, prompt, 2);  // warm-up: first-touch of weights and buffers
  time_once(with_act, prompt, 2);
  Samples plain_runs, act_runs;
  for (std::size_t r = 0; r < o.repeats; ++r) {
    plain_runs.add(time_once(plain, prompt, o.decode));
    act_runs.add(time_once(with_act, prompt, o.decode));
  }
  report("plain", plain_runs, o);
  report("ACT", act_runs, o);
  std::printf("ACT/plain time, median of %zu paired repeats: prefill %.3fx, decode %.3fx (%d threads)\n", o.repeats,
              median(paired_ratios(act_runs.prefill, plain_runs.prefill)),
              median(paired_ratios(act_runs.decode, plain_runs.decode)), o.engine.common.threads);
}

}  // namespace

void register_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand("bench", "Tokens/s with and without ACT (prefill and decode), same run");
  add_engine_flags(*command, o->engine);
  command->add_option("--prefill", o->prefill, "Prompt tokens")
      ->check(act_llama::whole_number_from(1))
      ->capture_default_str();
  command->add_option("--decode", o->decode, "Decode steps")
      ->check(act_llama::whole_number_from(0))
      ->capture_default_str();
  command->add_option("--repeats", o->repeats, "Alternating repeats")
      ->check(act_llama::whole_number_from(1))
      ->capture_default_str();
  command->callback([o] { run_bench(*o); });
}

}  // namespace act_llama_cpp
