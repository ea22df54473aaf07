#pragma once
// What a calibrating kernel did, summed over heads and rows: the defined outcomes of edge cases
// are counted here rather than hidden.
#include <cstddef>

namespace act {

struct CalibrationReport {
  std::size_t rows_calibrated = 0;  // rows whose output was rescaled
  std::size_t degenerate_rows = 0;  // rows the rescale rule left unchanged (e.g. no non-sink mass, r = 0)
  std::size_t invalid_rows = 0;     // rows with a NaN or +inf score: output NaN, excluded from statistics
  std::size_t empty_rows = 0;       // rows that see no key at all: output 0, lse -inf
  std::size_t sinks_selected = 0;   // sum over calibrated heads of |S|

  CalibrationReport& operator+=(const CalibrationReport& other) noexcept {
    rows_calibrated += other.rows_calibrated;
    degenerate_rows += other.degenerate_rows;
    invalid_rows += other.invalid_rows;
    empty_rows += other.empty_rows;
    sinks_selected += other.sinks_selected;
    return *this;
  }
  friend bool operator==(const CalibrationReport&, const CalibrationReport&) = default;
};

}  // namespace act
