#pragma once
// How long evaluations and head searches report progress: the library counts steps, and the
// caller decides what to show (the runner draws a line on the terminal; the default shows nothing).
#include <cstddef>
#include <functional>
#include <string_view>

namespace act::eval {

class ProgressReporter {
 public:
  virtual ~ProgressReporter() = default;
  // A stretch of `total` steps named `label` begins.
  virtual void begin(std::string_view label, std::size_t total) = 0;
  // `steps` more steps are done; called from several threads at once.
  virtual void advance(std::size_t steps) = 0;
  // The stretch is over (also after an exception).
  virtual void end() = 0;
};

class SilentProgress final : public ProgressReporter {
 public:
  void begin(std::string_view, std::size_t) override {}
  void advance(std::size_t) override {}
  void end() override {}
};

inline ProgressReporter& silent_progress() {
  static SilentProgress silent;
  return silent;
}

using ProgressRef = std::reference_wrapper<ProgressReporter>;

// One stretch, begun on construction and ended on destruction.
class ProgressStretch {
 public:
  ProgressStretch(ProgressReporter& reporter, std::string_view label, std::size_t total) : reporter_(reporter) {
    reporter_.begin(label, total);
  }
  ProgressStretch(const ProgressStretch&) = delete;
  ProgressStretch& operator=(const ProgressStretch&) = delete;
  ~ProgressStretch() { reporter_.end(); }
  void advance(std::size_t steps = 1) { reporter_.advance(steps); }

 private:
  ProgressReporter& reporter_;
};

}  // namespace act::eval
