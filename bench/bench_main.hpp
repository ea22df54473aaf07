#pragma once
// The main() of a benchmark program whose cases are registered at run time (the shape grids are
// loops, not macros): register them, then run Google Benchmark as BENCHMARK_MAIN would.
#include <benchmark/benchmark.h>

namespace act_bench {

template <class Register>
int run_benchmarks(int argc, char** argv, Register&& register_all) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace act_bench
