#pragma once
// The runner's progress line on stderr with elapsed time and ETA, redrawn in place at most five
// times a second on a terminal; into a log file (stderr not a terminal), one line every 30 seconds.
// advance() may be called from several threads at once.
#include <act/eval/harness/progress.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

namespace act_llama {

// "1h02m", "3m07s" or "12s".
inline std::string format_duration(double seconds) {
  const long total = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm", total / 3600, (total / 60) % 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lds", total);
  }
  return text;
}

class TerminalProgress final : public act::eval::ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;

  void begin(std::string_view label, std::size_t total) override {
    std::lock_guard lock(mutex_);
    label_ = label;
    total_ = total;
    done_ = 0;
    start_ = Clock::now();
    last_draw_ = {};
    drawn_ = std::nullopt;
  }

  void advance(std::size_t steps) override {
    const std::size_t done = done_.fetch_add(steps) + steps;
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(30000);
    if (done < total_ && now - last_draw_ < interval) return;
    last_draw_ = now;
    draw(done, seconds_since_start(now));
  }

  // Ends the line; the final count is drawn unless advance() already drew it.
  void end() override {
    std::lock_guard lock(mutex_);
    const std::size_t done = done_.load();
    if (drawn_ != done) draw(done, seconds_since_start(Clock::now()));
    if (terminal_) std::fputc('\n', stderr);
  }

  std::size_t done() const noexcept { return done_.load(); }
  double elapsed_seconds() const { return seconds_since_start(Clock::now()); }

 private:
  double seconds_since_start(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
  }

  void draw(std::size_t done, double elapsed) {
    drawn_ = done;
    const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
    const std::string eta = done == 0 ? "?" : format_duration(elapsed * (1.0 - fraction) / fraction);
    std::fprintf(stderr, "%s%s %zu/%zu (%3.0f%%) elapsed %s ETA %s%s", terminal_ ? "\r" : "", label_.c_str(), done,
                 total_, 100.0 * fraction, format_duration(elapsed).c_str(), eta.c_str(), terminal_ ? "   " : "\n");
    std::fflush(stderr);
  }

  std::string label_;
  std::size_t total_ = 0;
  bool terminal_ = isatty(STDERR_FILENO) != 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  std::optional<std::size_t> drawn_;  // the count on the line now
  std::atomic<std::size_t> done_{0};
  std::mutex mutex_;
};

}  // namespace act_llama
