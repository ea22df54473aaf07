// The engine entry points: SlicedAttention run slice by slice on the caller's threads (no OpenMP),
// and the noexcept try_attention / try_correct that report errors as a Status.
#include "kernel_testing.hpp"

#include <barrier>
#include <cstring>
#include <thread>

using namespace act;
using namespace act::testing;

namespace {

// Runs every phase's slices on the calling thread, each phase's slices in reverse order.
template <class Cal>
Result run_sliced(const Problem& p, const Cal& calibration, std::size_t slices) {
  Result r{std::vector<float>(p.q.size()), std::vector<float>(p.shape.q_heads * p.shape.q_len), {}, {}, {}};
  const AttentionExtras extras = extras_for(r, {}, p.shape.q_heads);
  SlicedAttention call(p.queries(), p.keys(), p.values(),
                       head_major(r.out.data(), p.shape.q_heads, p.shape.q_len, p.shape.dim), p.options, calibration,
                       extras, slices);
  for (std::size_t phase = 0; phase < call.phases(); ++phase)
    for (std::size_t ith = slices; ith-- > 0;) REQUIRE(call.run(phase, ith).ok());
  REQUIRE(call.status().ok());
  r.report = call.report();
  return r;
}

}  // namespace

TEST_CASE("sliced attention equals act::attention and the oracle", "[kernels][engine]") {
  const std::size_t slices = GENERATE(1, 3, 8);
  const bool calibrated = GENERATE(false, true);
  CAPTURE(slices, calibrated);
  Problem p = random_problem({6, 2, 45, 45, 16}, {}, static_cast<std::uint32_t>(slices));
  plant_sinks(p, {0, 6, 19}, 14.0f);
  const auto calibration = paper_calibration();
  const Result whole = calibrated ? run_fused(p, calibration) : run_fused(p, NoCalibration{});
  const Result sliced = calibrated ? run_sliced(p, calibration, slices) : run_sliced(p, NoCalibration{}, slices);
  REQUIRE(sliced.sinks == whole.sinks);
  CHECK(sliced.report == whole.report);
  // Same sinks, and every row is computed by the same block code from the same inputs: bitwise equal.
  CHECK(sliced.out == whole.out);
  CHECK(sliced.lse == whole.lse);
  if (!calibrated) return;
  CHECK(sliced.report.rows_calibrated > 0);
  CHECK(sliced.sinks == run_reference(p, calibration).sinks);
}

TEST_CASE("sliced attention runs on the engine's own threads with its barrier", "[kernels][engine][threads]") {
  Problem p = random_problem({4, 1, 64, 64, 8}, {}, 11);
  plant_sinks(p, {0, 9}, 10.0f);
  const auto calibration = paper_calibration();
  std::vector<float> out(p.q.size());
  SlicedAttention call(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 64, 8), p.options, calibration, {},
                       3);
  std::barrier sync(3);
  std::vector<Status> statuses(3);
  std::vector<std::thread> threads;
  for (std::size_t ith = 0; ith < 3; ++ith) {
    threads.emplace_back([&, ith] {
      for (std::size_t phase = 0; phase < call.phases(); ++phase) {
        statuses[ith] = call.run(phase, ith);
        sync.arrive_and_wait();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Status& status : statuses) CHECK(status.ok());
  CHECK(call.phases() == 3);
  CHECK(out == run_fused(p, calibration).out);
}

TEST_CASE("engine entry points report errors as a status", "[kernels][engine][errors]") {
  Problem p = random_problem({4, 2, 8, 8, 4}, {}, 3);
  std::vector<float> out(p.q.size());
  SECTION("bad shapes") {
    const Status status = try_attention(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 3));
    CHECK(status.code == StatusCode::invalid_argument);
    CHECK(std::strstr(status.message, "output") != nullptr);
    std::vector<float> short_lse(3);
    CHECK(try_correct(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 4), short_lse, p.options,
                      paper_calibration())
              .code == StatusCode::invalid_argument);
  }
  SECTION("a throwing policy") {
    const Status status = try_attention(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 4), p.options,
                                        Calibration{ThrowingDetector{}, Redistribute{}});
    CHECK(status.code == StatusCode::failed);
    CHECK(std::string(status.message) == "detector failed");
    SlicedAttention call(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 4), p.options,
                         Calibration{ThrowingDetector{}, Redistribute{}}, {}, 2);
    CHECK(call.run(0, 0).ok());
    CHECK(call.run(0, 1).ok());
    CHECK(call.run(1, 1).code == StatusCode::failed);
    CHECK(call.run(1, 0).code == StatusCode::failed);  // every thread learns of it
    CHECK(call.status().code == StatusCode::failed);
  }
  SECTION("success, with the report") {
    CalibrationReport report;
    p.options.masking = Masking::none;
    CHECK(try_attention(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 4), p.options,
                        Calibration{ColumnMeanThreshold(-1.0f, KeepSink::none), Redistribute{}}, {}, &report)
              .ok());
    CHECK(report.sinks_selected == 4 * 8);
  }
  SECTION("slices out of range") {
    SlicedAttention call(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 4), p.options, NoCalibration{},
                         {}, 2);
    CHECK(call.phases() == 1);
    CHECK(call.run(1, 0).code == StatusCode::invalid_argument);
    CHECK(call.run(0, 2).code == StatusCode::invalid_argument);
    CHECK_THROWS_AS(SlicedAttention(p.queries(), p.keys(), p.values(), head_major(out.data(), 4, 8, 4), p.options,
                                    NoCalibration{}, {}, 0),
                    std::invalid_argument);
  }
}
