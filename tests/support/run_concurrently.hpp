#pragma once
// For thread-safety tests: runs jobs from several std::threads at once and collects, per thread,
// the jobs whose result differed from the expected one. Catch2's assertions are not thread-safe,
// so the threads only record; the caller asserts on what comes back.
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

namespace act::testing {

struct Mismatch {
  std::size_t thread;
  std::size_t job;
};

// `matches(job)` runs job `job` (0 <= job < job_count) and says whether it gave the expected
// result. Each of `threads` threads runs every job `rounds` times, starting at its own index, so
// different jobs overlap in time.
template <class Matches>
std::vector<Mismatch> run_concurrently(std::size_t job_count, const Matches& matches, std::size_t threads = 4,
                                       std::size_t rounds = 3) {
  std::vector<std::vector<Mismatch>> found(threads);
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::size_t n = 0; n < rounds * job_count; ++n) {
        const std::size_t job = (t + n) % job_count;
        if (!matches(job)) found[t].push_back({t, job});
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  std::vector<Mismatch> all;
  for (std::vector<Mismatch>& mine : found) all.insert(all.end(), mine.begin(), mine.end());
  return all;
}

}  // namespace act::testing
