// The kernels called from several std::threads at once, on shared read-only inputs with separate
// outputs, give bitwise the results of one thread calling them in turn. Each kernel's own OpenMP
// team (1 or 2 threads) runs inside the calling thread.
#include "kernel_testing.hpp"
#include "run_concurrently.hpp"
#include "same_bits.hpp"

#include <bit>
#include <functional>

using namespace act;
using namespace act::testing;

namespace {

bool same_result(const Result& a, const Result& b) {
  return same_bits(a.out, b.out) && same_bits(a.lse, b.lse) && a.report == b.report && a.sinks == b.sinks;
}

// Prefill of the first `prompt` tokens, then one decode step per remaining token, with SinkState:
// the outputs of every step, concatenated.
std::vector<float> decode_with_sink_state(const Problem& full, std::size_t prompt) {
  const Shape& s = full.shape;
  SinkState state(s.q_heads);
  std::vector<float> outputs;
  for (std::size_t end = prompt; end <= s.kv_len; ++end) {
    const std::size_t first = end == prompt ? 0 : end - 1;  // the step's queries: [first, end)
    const auto view = [&](const std::vector<float>& data, std::size_t heads, std::size_t row, std::size_t rows) {
      return HeadsView<const float>{
          data.data() + row * s.dim,         heads, rows, s.dim, static_cast<std::ptrdiff_t>(s.kv_len * s.dim),
          static_cast<std::ptrdiff_t>(s.dim)};
    };
    std::vector<float> out(s.q_heads * (end - first) * s.dim);
    AttentionExtras extras;
    extras.running_stats = state.span();
    attention(view(full.q, s.q_heads, first, end - first), view(full.k, s.kv_heads, 0, end),
              view(full.v, s.kv_heads, 0, end), head_major(out.data(), s.q_heads, end - first, s.dim), full.options,
              paper_calibration(), extras);
    outputs.insert(outputs.end(), out.begin(), out.end());
  }
  return outputs;
}

// One unit of work per kernel and problem; each returns its whole result as floats and counts.
struct Job {
  const char* name;
  std::function<Result()> run;
};

std::vector<Job> jobs(const std::vector<Problem>& problems) {
  std::vector<Job> list;
  for (const Problem& problem : problems) {
    const Problem* p = &problem;
    list.push_back({"reference", [p] { return run_reference(*p, paper_calibration()); }});
    for (const int threads : {1, 2}) {
      list.push_back({"fused", [p, threads] {
                        Problem copy = *p;
                        copy.options.threads = threads;
                        return run_fused(copy, paper_calibration());
                      }});
    }
    list.push_back({"correct", [p] {
                      Result r = run_fused(*p, NoCalibration{});
                      r.report = correct(p->queries(), p->keys(), p->values(),
                                         head_major(r.out.data(), p->shape.q_heads, p->shape.q_len, p->shape.dim),
                                         r.lse, p->options, paper_calibration());
                      return r;
                    }});
    list.push_back({"decode with SinkState", [p] {
                      Result r;
                      r.out = decode_with_sink_state(*p, p->shape.kv_len / 2);
                      return r;
                    }});
  }
  return list;
}

}  // namespace

TEST_CASE("kernels on several threads at once give the results of one thread", "[kernels][threads]") {
  std::vector<Problem> problems;
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    problems.push_back(random_problem({4, 2, 40, 40, 16}, {}, seed));
    plant_sinks(problems.back(), {0, 3, 17}, 16.0f);
  }
  const std::vector<Job> work = jobs(problems);
  std::vector<Result> expected;
  for (const Job& job : work) expected.push_back(job.run());

  const auto mismatches =
      run_concurrently(work.size(), [&](std::size_t job) { return same_result(work[job].run(), expected[job]); });
  for (const Mismatch& m : mismatches)
    FAIL_CHECK("thread " << m.thread << ": " << work[m.job].name << " (job " << m.job << ") differs from one thread's");
  CHECK(expected.front().report.rows_calibrated > 0);  // the calibration path was exercised
}
