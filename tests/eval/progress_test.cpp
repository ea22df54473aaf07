#include <act/eval/progress.hpp>

#include <catch2/catch.hpp>

using act::eval::format_duration;

TEST_CASE("progress: durations read as people write them", "[eval][progress]") {
  CHECK(format_duration(0.4) == "0s");
  CHECK(format_duration(59.6) == "1m00s");
  CHECK(format_duration(187) == "3m07s");
  CHECK(format_duration(3725) == "1h02m");
  CHECK(format_duration(-5) == "0s");
}

TEST_CASE("progress: counts steps from several threads", "[eval][progress]") {
  act::eval::Progress progress("test", 1000, false);
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 1000; ++i) progress.advance();
  CHECK(progress.done() == 1000);
}
