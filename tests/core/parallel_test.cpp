// act::parallel's thread count: the default for 0 or less, the request itself up to max_threads,
// max_threads above it (libgomp crashed on requests from 65,281 threads up).
#include <act/core/parallel.hpp>

#include <catch2/catch.hpp>

using act::parallel::max_threads;
using act::parallel::resolve_threads;

TEST_CASE("thread requests: the default, the request, at most max_threads", "[core][parallel]") {
#if defined(_OPENMP)
  CHECK(resolve_threads(0) == omp_get_max_threads());
  CHECK(resolve_threads(-3) == omp_get_max_threads());
  CHECK(resolve_threads(3) == 3);
  CHECK(resolve_threads(max_threads) == max_threads);
  CHECK(resolve_threads(max_threads + 1) == max_threads);
  CHECK(resolve_threads(70000) == max_threads);
#else
  CHECK(resolve_threads(70000) == 1);
#endif
}
