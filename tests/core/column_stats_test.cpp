// SeenCounts: a causal history is counted without an array, any other one per column, and every way
// of adding rows gives the counts a brute-force tally gives, whatever the form.
#include <act/core/column_stats.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

using namespace act;

namespace {

using Tally = std::vector<std::uint32_t>;

void tally_row(Tally& tally, std::size_t visible) {
  if (tally.size() < visible) tally.resize(visible, 0u);
  for (std::size_t j = 0; j < visible; ++j) ++tally[j];
}

// The counts read four ways: operator[], the view, visit, and to_vector.
void check_counts(const SeenCounts& counts, const Tally& tally) {
  REQUIRE(counts.size() == tally.size());
  CHECK(counts.to_vector() == tally);
  const SeenCountsView view = counts.view();
  counts.visit([&](auto seen) {
    for (std::size_t j = 0; j < tally.size(); ++j) {
      CAPTURE(j);
      CHECK(seen(j) == tally[j]);
      CHECK(counts[j] == tally[j]);
      CHECK(view[j] == tally[j]);
    }
  });
}

}  // namespace

TEST_CASE("a causal history keeps no array: column j was seen by rows - j rows", "[core][column_stats]") {
  SeenCounts counts;
  for (std::size_t row = 0; row < 5; ++row) counts.add_row(row + 1);
  CHECK(counts.form() == SeenCounts::Form::causal);
  check_counts(counts, {5, 4, 3, 2, 1});
  counts.extend_to(8);  // keys appended to the cache, not seen yet
  check_counts(counts, {5, 4, 3, 2, 1, 0, 0, 0});
  counts.add_row(6);  // decode: the next row sees one more key
  CHECK(counts.form() == SeenCounts::Form::causal);
  check_counts(counts, {6, 5, 4, 3, 2, 1, 0, 0});
  const std::vector<std::size_t> chunk{7, 8};  // a chunk of prefill continuing the history
  counts.add_rows(chunk);
  CHECK(counts.form() == SeenCounts::Form::causal);
  check_counts(counts, {8, 7, 6, 5, 4, 3, 2, 1});
}

TEST_CASE("a row off the diagonal switches to per-column counts for good", "[core][column_stats]") {
  SeenCounts counts;
  for (std::size_t row = 0; row < 3; ++row) counts.add_row(row + 1);
  counts.add_row(3);  // e.g. a second sequence's row, or a row after one that took no part
  CHECK(counts.form() == SeenCounts::Form::per_column);
  check_counts(counts, {4, 3, 2});
  counts.add_row(5);  // would continue a diagonal of 4 rows, but the history is not causal any more
  CHECK(counts.form() == SeenCounts::Form::per_column);
  check_counts(counts, {5, 4, 3, 1, 1});
  counts.clear();
  CHECK(counts.form() == SeenCounts::Form::causal);
  CHECK(counts.size() == 0);
}

TEST_CASE("merging: an empty history takes the other's counts, two histories add up", "[core][column_stats]") {
  SeenCounts causal;
  for (std::size_t row = 0; row < 4; ++row) causal.add_row(row + 1);
  SeenCounts empty;
  empty.add(causal);
  CHECK(empty.form() == SeenCounts::Form::causal);
  CHECK(empty == causal);
  SeenCounts twice = causal;
  twice.add(causal);
  check_counts(twice, {8, 6, 4, 2});
  const Tally extra{1, 0, 2, 0, 5};
  twice.add(std::span<const std::uint32_t>(extra));
  check_counts(twice, {9, 6, 6, 2, 5});
  SeenCounts single;
  single.increment(2);
  check_counts(single, {0, 0, 1});
}

TEST_CASE("every way of adding rows counts what a brute-force tally counts", "[core][column_stats]") {
  std::mt19937 rng(20261202);
  for (int trial = 0; trial < 200; ++trial) {
    SeenCounts counts;
    Tally tally;
    std::size_t rows = 0;  // rows of the diagonal, when the history is causal so far
    bool causal = true;
    for (int step = 0; step < 12; ++step) {
      CAPTURE(trial, step);
      const bool on_diagonal = rng() % 4 != 0;
      const auto next_visible = [&] {
        const std::size_t v = on_diagonal ? rows + 1 : rng() % 20;
        causal = causal && on_diagonal;
        ++rows;
        return v;
      };
      switch (rng() % 4) {
        case 0: {
          const std::size_t v = next_visible();
          counts.add_row(v);
          tally_row(tally, v);
          break;
        }
        case 1: {
          std::vector<std::size_t> batch(rng() % 5);
          for (std::size_t& v : batch) v = next_visible();
          counts.add_rows(batch);
          for (const std::size_t v : batch) tally_row(tally, v);
          break;
        }
        case 2: {
          const std::size_t columns = tally.size() + rng() % 3;
          counts.extend_to(columns);
          tally.resize(std::max(tally.size(), columns), 0u);
          break;
        }
        default: {
          const std::size_t column = rng() % 20;
          counts.increment(column);
          tally.resize(std::max(tally.size(), column + 1), 0u);
          ++tally[column];
          causal = false;
        }
      }
      check_counts(counts, tally);
      if (causal) CHECK(counts.form() == SeenCounts::Form::causal);
    }
  }
}

TEST_CASE("ColumnStatsView: means over the rows that saw each column", "[core][column_stats]") {
  ColumnStats stats;
  stats.extend_to(4);
  stats.received = {3.0f, 1.0f, 0.5f, 7.0f};
  for (std::size_t row = 0; row < 3; ++row) stats.seen_by.add_row(row + 1);
  const ColumnStatsView view = stats.view();
  CHECK(view.mean(0) == 1.0f);
  CHECK(view.mean(1) == 0.5f);
  CHECK(view.mean(2) == 0.5f);
  CHECK(view.mean(3) == 0.0f);  // unseen: mean 0, whatever it received
}
