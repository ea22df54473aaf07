#pragma once
// Per-column attention statistics of one head: total (un-calibrated) weight each key received and
// how many queries could see it. Sink detectors work from these alone, so one detector serves
// prefill (statistics of the whole map) and decode (running statistics over the KV cache).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace act {

// The count of rows that saw column j, as a function the hot loops call once per column after
// choosing the form once (SeenCounts::visit).
// (rows - min(j, rows) rather than a conditional: GCC 12 does not vectorise the conditional.)
struct CausalCounts {
  std::uint32_t rows = 0;
  std::uint32_t operator()(std::size_t j) const noexcept {
    return static_cast<std::uint32_t>(rows - std::min<std::size_t>(j, rows));
  }
};
// Counts one more row for column j and returns the new count (SeenCounts::add_row_counting).
struct CountingColumns {
  std::uint32_t* counts = nullptr;
  std::uint32_t operator()(std::size_t j) const noexcept { return ++counts[j]; }
};
struct PerColumnCounts {
  const std::uint32_t* counts = nullptr;
  std::uint32_t operator()(std::size_t j) const noexcept { return counts[j]; }
};

// Read-only counts; a span of per-column counts converts to it, so an engine keeping its own
// arrays can hand them to a detector.
struct SeenCountsView {
  enum class Form : std::uint8_t { causal, per_column };
  Form form = Form::causal;
  std::uint32_t causal_rows = 0;           // causal form: column j was seen by causal_rows - j rows
  std::span<const std::uint32_t> columns;  // per-column form

  SeenCountsView() = default;
  SeenCountsView(std::span<const std::uint32_t> per_column) noexcept  // NOLINT: implicit on purpose
      : form(Form::per_column), columns(per_column) {}
  static SeenCountsView causal(std::uint32_t rows) noexcept {
    SeenCountsView view;
    view.causal_rows = rows;
    return view;
  }

  // Calls f once with CausalCounts or PerColumnCounts, so a loop over columns has no branch on the form.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return form == Form::causal ? f(CausalCounts{causal_rows}) : f(PerColumnCounts{columns.data()});
  }
  std::uint32_t operator[](std::size_t j) const noexcept {
    return form == Form::causal ? CausalCounts{causal_rows}(j) : columns[j];
  }
};

// How many valid rows saw each column: the denominators of the column means. In a causal history
// (row r, counted from 0, sees keys [0, r + 1): prefill from the first position, then decode), column
// j was seen by rows - j rows, so no array is kept. Decode updates the statistics of the whole cache
// at every step; without the array that pass reads and writes 8 bytes per column instead of 16. Any
// other history (a mask, an offset, a row that took no part) switches to one count per column, for
// good. Counts are 32-bit: histories of up to 2^32 - 1 rows.
class SeenCounts {
 public:
  using Form = SeenCountsView::Form;

  std::size_t size() const noexcept { return columns_; }
  Form form() const noexcept { return form_; }
  SeenCountsView view() const noexcept {
    return form_ == Form::causal ? SeenCountsView::causal(rows_) : SeenCountsView(counts_);
  }
  std::uint32_t operator[](std::size_t j) const noexcept { return view()[j]; }
  template <class F>
  decltype(auto) visit(F&& f) const {
    return view().visit(f);
  }
  // Every count, whatever the form (tests, inspection).
  std::vector<std::uint32_t> to_vector() const {
    std::vector<std::uint32_t> out(columns_);
    for (std::size_t j = 0; j < columns_; ++j) out[j] = (*this)[j];
    return out;
  }
  friend bool operator==(const SeenCounts& a, const SeenCounts& b) { return a.to_vector() == b.to_vector(); }

  // Grows to `columns` keys (new keys start unseen); never shrinks, so a KV cache can keep appending.
  void extend_to(std::size_t columns) {
    if (columns <= columns_) return;
    columns_ = columns;
    if (form_ == Form::per_column) counts_.resize(columns, 0u);
  }
  void clear() noexcept {
    form_ = Form::causal;
    rows_ = 0;
    columns_ = 0;
    counts_.clear();
  }
  // One valid row that saw keys [0, visible).
  void add_row(std::size_t visible) {
    add_row_counting(visible, [visible](auto count) {
      for (std::size_t j = 0; j < visible; ++j) count(j);
    });
  }
  // The same, counted in the caller's own pass over the row's columns: pass(count) must call
  // count(j) once for each j in [0, visible); count(j) returns the column's count with the row.
  // A causal history counts the whole row at once and count(j) only computes, so decode updates
  // and tests each column in one pass whatever the form.
  template <class Pass>
  void add_row_counting(std::size_t visible, Pass&& pass) {
    extend_to(visible);
    if (form_ == Form::causal && visible == std::size_t{rows_} + 1) {
      ++rows_;
      pass(CausalCounts{rows_});
      return;
    }
    to_per_column();
    pass(CountingColumns{counts_.data()});
  }
  // Valid rows in order, each seeing keys [0, visible[i]): O(rows + columns) whatever the form.
  void add_rows(std::span<const std::size_t> visible) {
    if (!visible.empty()) extend_to(*std::max_element(visible.begin(), visible.end()));
    if (form_ == Form::causal && continues_diagonal(visible)) {
      rows_ += static_cast<std::uint32_t>(visible.size());
      return;
    }
    to_per_column();
    std::vector<std::uint32_t> rows_ending_at(columns_ + 1, 0u);
    for (const std::size_t v : visible) ++rows_ending_at[v];
    std::uint32_t seeing = 0;  // rows that see column j: those ending after it
    for (std::size_t j = columns_; j-- > 0;) {
      seeing += rows_ending_at[j + 1];
      counts_[j] += seeing;
    }
  }
  // Adds another history's counts (merging running and per-call statistics).
  void add(const SeenCounts& other) {
    extend_to(other.size());
    if (form_ == Form::causal && rows_ == 0 && other.form_ == Form::causal) {
      rows_ = other.rows_;
      return;
    }
    to_per_column();
    other.visit([&](auto seen) {
      for (std::size_t j = 0; j < other.size(); ++j) counts_[j] += seen(j);
    });
  }
  // Adds counts kept elsewhere, one per column (masked sweeps).
  void add(std::span<const std::uint32_t> per_column) {
    extend_to(per_column.size());
    to_per_column();
    for (std::size_t j = 0; j < per_column.size(); ++j) counts_[j] += per_column[j];
  }
  // One row saw column j (the oracles count visit by visit).
  void increment(std::size_t j) {
    extend_to(j + 1);
    to_per_column();
    ++counts_[j];
  }

 private:
  bool continues_diagonal(std::span<const std::size_t> visible) const noexcept {
    for (std::size_t i = 0; i < visible.size(); ++i)
      if (visible[i] != std::size_t{rows_} + i + 1) return false;
    return true;
  }
  void to_per_column() {
    if (form_ == Form::per_column) return;
    counts_.resize(columns_);
    for (std::size_t j = 0; j < columns_; ++j) counts_[j] = CausalCounts{rows_}(j);
    form_ = Form::per_column;
  }

  Form form_ = Form::causal;
  std::uint32_t rows_ = 0;  // causal form
  std::size_t columns_ = 0;
  std::vector<std::uint32_t> counts_;  // per-column form: one per column
};

struct ColumnStatsView {
  std::span<const float> received;
  SeenCountsView seen_by;

  std::size_t size() const noexcept { return received.size(); }
  // Mean weight over the queries that saw column j; a column no query saw has mean 0.
  float mean(std::size_t j) const noexcept {
    const std::uint32_t seen = seen_by[j];
    return seen == 0 ? 0.0f : received[j] / static_cast<float>(seen);
  }
};

struct ColumnStats {
  std::vector<float> received;
  SeenCounts seen_by;

  std::size_t size() const noexcept { return received.size(); }
  // Grows to `columns` keys (new keys start unseen); never shrinks, so a KV cache can keep appending.
  void extend_to(std::size_t columns) {
    if (columns > received.size()) received.resize(columns, 0.0f);
    seen_by.extend_to(columns);
  }
  void clear() noexcept {
    received.clear();
    seen_by.clear();
  }
  ColumnStatsView view() const noexcept { return {received, seen_by.view()}; }
};

}  // namespace act
