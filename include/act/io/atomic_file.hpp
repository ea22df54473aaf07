#pragma once
// Output files that are either complete or absent: the bytes go to a temporary file in the same
// folder, which is flushed to disk and then renamed over the target. A full disk, a killed process
// or a failed write leaves any previous file untouched and never a truncated one; every failure
// (open, write, fsync, close, rename) is an act::Error naming the path and the system's reason.
#include <act/core/error.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace act::io {

namespace detail {

[[noreturn]] inline void write_failed(const std::filesystem::path& path, std::string_view step, int error) {
  throw Error("cannot write " + path.string() + ": " + std::string(step) + ": " + std::strerror(error));
}

// Writes all of `bytes` to fd, retrying short writes and interruptions.
inline int write_all(int fd, std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

// A fresh temporary name beside `path`, created exclusively (two writers never share one).
inline int create_temporary(const std::filesystem::path& path, std::string& name) {
  const std::string base = path.string() + ".tmp-" + std::to_string(::getpid()) + "-";
  for (int attempt = 0; attempt < 100; ++attempt) {
    name = base + std::to_string(attempt);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

}  // namespace detail

// Replaces `path` with `bytes` atomically (see the top of this file).
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  std::string temporary;
  const int fd = detail::create_temporary(path, temporary);
  if (fd < 0) detail::write_failed(path, "create a temporary file beside it", errno);
  int error = detail::write_all(fd, bytes);
  const char* step = "write";
  if (error == 0 && ::fsync(fd) != 0) error = errno, step = "flush to disk";
  if (::close(fd) != 0 && error == 0) error = errno, step = "close";
  if (error == 0 && std::rename(temporary.c_str(), path.c_str()) != 0) error = errno, step = "rename into place";
  if (error != 0) {
    ::unlink(temporary.c_str());
    detail::write_failed(path, step, error);
  }
}

}  // namespace act::io
