// The runner's progress line: durations as people write them, and step counts from many threads.
#include "progress.hpp"

#include <act/core/parallel.hpp>

#include <catch2/catch.hpp>

using act_llama::format_duration;

TEST_CASE("progress: durations read as people write them", "[runner][progress]") {
  CHECK(format_duration(0.4) == "0s");
  CHECK(format_duration(59.6) == "1m00s");
  CHECK(format_duration(187) == "3m07s");
  CHECK(format_duration(3725) == "1h02m");
  CHECK(format_duration(-5) == "0s");
}

TEST_CASE("progress: counts steps from several threads", "[runner][progress]") {
  act_llama::TerminalProgress progress;
  progress.begin("test", 1000);
  act::parallel::parallel_for(1000, 2, [&](std::size_t) { progress.advance(1); });
  CHECK(progress.done() == 1000);
  progress.end();
}
