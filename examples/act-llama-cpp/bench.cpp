// act-llama-cpp bench: llama.cpp's speed with and without ACT in the same process, alternating
// the two so that the machine's load drifts over both alike: prefill of a prompt of --prefill
// tokens, then --decode single-token steps. Prints tokens/s of each and the ACT/plain time ratio.
#include "cli.hpp"

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

void report(const char* name, const Timing& t, const BenchOptions& o, std::size_t repeats) {
  const double runs = static_cast<double>(repeats);
  std::printf("%-6s prefill %zu tokens: %8.1f tok/s   decode %zu tokens: %7.1f tok/s\n", name, o.prefill,
              runs * static_cast<double>(o.prefill) / t.prefill_seconds, o.decode,
              runs * static_cast<double>(o.decode) / t.decode_seconds);
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
  Timing sum_plain, sum_act;
  for (std::size_t r = 0; r < o.repeats; ++r) {
    const Timing a = time_once(plain, prompt, o.decode), b = time_once(with_act, prompt, o.decode);
    sum_plain.prefill_seconds += a.prefill_seconds;
    sum_plain.decode_seconds += a.decode_seconds;
    sum_act.prefill_seconds += b.prefill_seconds;
    sum_act.decode_seconds += b.decode_seconds;
  }
  report("plain", sum_plain, o, o.repeats);
  report("ACT", sum_act, o, o.repeats);
  std::printf("ACT/plain time: prefill %.3fx, decode %.3fx (%zu alternating repeats, %d threads)\n",
              sum_act.prefill_seconds / sum_plain.prefill_seconds, sum_act.decode_seconds / sum_plain.decode_seconds,
              o.repeats, o.engine.common.threads);
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
