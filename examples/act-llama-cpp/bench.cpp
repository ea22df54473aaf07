// act-llama-cpp bench: llama.cpp's speed with and without ACT in the same process, alternating
// the two so that the machine's load drifts over both alike: prefill of a prompt of --prefill
// tokens, then --decode single-token steps. Prints median tokens/s of each and the median of
// the per-repeat ACT/plain time ratios, on the wall clock and on the process CPU clock.
#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

namespace act_llama_cpp {
namespace {

struct BenchOptions {
  EngineFlags engine;
  std::size_t prefill = 256;
  std::size_t decode = 64;
  std::size_t repeats = 3;
};

// Seconds of one stretch of work on two clocks. On a loaded machine the wall time includes
// waiting for a core and the process CPU time does not; with -t 1 the CPU time is the work itself
// (with more threads it also counts ggml's workers spinning while they wait).
struct Seconds {
  double wall = 0.0, cpu = 0.0;
};

class Stopwatch {
 public:
  Seconds elapsed() const {
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count(),
            static_cast<double>(std::clock() - cpu_) / CLOCKS_PER_SEC};
  }

 private:
  std::chrono::steady_clock::time_point wall_ = std::chrono::steady_clock::now();
  std::clock_t cpu_ = std::clock();
};

struct Timing {
  Seconds prefill, decode;
};

// One prefill and the decode steps after it; the decoded tokens are fixed (not sampled) so that
// both engines do the same work.
Timing time_once(Engine& engine, const std::vector<std::int32_t>& prompt, std::size_t steps) {
  Timing t;
  engine.start_sequence();
  const Stopwatch prefill;
  engine.decode(prompt, prompt.size() - 1, 1);
  t.prefill = prefill.elapsed();
  const Stopwatch decode;
  for (std::size_t i = 0; i < steps; ++i) engine.decode(std::span(&prompt[i % prompt.size()], 1), 0, 1);
  t.decode = decode.elapsed();
  return t;
}

using Clock = double Seconds::*;  // &Seconds::wall or &Seconds::cpu
using Phase = Seconds Timing::*;  // &Timing::prefill or &Timing::decode

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Medians resist the foreign load of a shared machine better than sums.
double median_seconds(const std::vector<Timing>& runs, Phase phase, Clock clock) {
  std::vector<double> values;
  for (const Timing& t : runs) values.push_back(t.*phase.*clock);
  return median(values);
}

// Per repeat, ACT's time over the plain run's just before it: pairs share the load of their moment.
double median_ratio(const std::vector<Timing>& act, const std::vector<Timing>& plain, Phase phase, Clock clock) {
  std::vector<double> ratios;
  for (std::size_t r = 0; r < act.size(); ++r) ratios.push_back(act[r].*phase.*clock / (plain[r].*phase.*clock));
  return median(ratios);
}

void report(const char* name, const std::vector<Timing>& runs, const BenchOptions& o) {
  const auto rate = [&](std::size_t tokens, Phase phase, Clock clock) {
    return static_cast<double>(tokens) / median_seconds(runs, phase, clock);
  };
  std::printf(
      "%-6s prefill %zu tokens: %7.1f tok/s wall, %7.1f tok/s CPU   decode %zu tokens: %6.1f tok/s wall, "
      "%6.1f tok/s CPU (medians)\n",
      name, o.prefill, rate(o.prefill, &Timing::prefill, &Seconds::wall),
      rate(o.prefill, &Timing::prefill, &Seconds::cpu), o.decode, rate(o.decode, &Timing::decode, &Seconds::wall),
      rate(o.decode, &Timing::decode, &Seconds::cpu));
}

void report_ratios(const std::vector<Timing>& act, const std::vector<Timing>& plain, const BenchOptions& o) {
  std::printf(
      "ACT/plain time, median of %zu paired repeats (%d threads): prefill %.3fx wall, %.3fx CPU; "
      "decode %.3fx wall, %.3fx CPU\n",
      o.repeats, o.engine.common.threads, median_ratio(act, plain, &Timing::prefill, &Seconds::wall),
      median_ratio(act, plain, &Timing::prefill, &Seconds::cpu),
      median_ratio(act, plain, &Timing::decode, &Seconds::wall),
      median_ratio(act, plain, &Timing::decode, &Seconds::cpu));
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
  std::vector<Timing> plain_runs, act_runs;
  for (std::size_t r = 0; r < o.repeats; ++r) {
    plain_runs.push_back(time_once(plain, prompt, o.decode));
    act_runs.push_back(time_once(with_act, prompt, o.decode));
  }
  report("plain", plain_runs, o);
  report("ACT", act_runs, o);
  report_ratios(act_runs, plain_runs, o);
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
