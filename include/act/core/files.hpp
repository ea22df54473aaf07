#pragma once
// The small files the library reads and writes whole (head sets, results, pictures): reading one
// refuses anything but a regular file and anything above a size cap, so a FIFO cannot hang a run
// and /dev/zero cannot exhaust memory; writing one is atomic: the bytes go to a temporary file in
// the same folder, which is flushed to disk and then renamed over the target. A full disk, a killed
// process or a failed write leaves any previous file untouched and never a truncated one. Every
// failure is an act::Error naming the path and the system's reason. Lives in core (POSIX only, no
// other dependency) so that every layer, head-set files included, can use it.
#include <act/core/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace act {

namespace detail {

[[noreturn]] inline void write_failed(const std::filesystem::path& path, std::string_view step, int error) {
  throw Error("act: cannot write " + path.string() + ": " + std::string(step) + ": " + std::strerror(error));
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

// Closes a descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace detail

// Replaces `path` with `bytes` atomically (see the top of this file). An existing target that is
// not a regular file (a device such as /dev/full, a FIFO) is refused: renaming over it would
// replace the device node rather than write to it.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  struct stat target {};
  if (::stat(path.c_str(), &target) == 0 && !S_ISREG(target.st_mode))
    throw Error("act: cannot write " + path.string() + ": not a regular file");
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

// The whole of a regular file of at most `max_bytes` bytes. `what` names the file in errors
// ("head set file"). Opened without blocking, so a FIFO is refused instead of waited on.
inline std::string read_regular_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view what) {
  const std::string name = std::string(what) + " " + path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error("act: cannot open " + name + ": " + std::strerror(errno));
  const detail::FdCloser closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw Error("act: cannot read " + name + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw Error("act: " + name + " is not a regular file");
  if (static_cast<std::size_t>(info.st_size) > max_bytes)
    throw Error("act: " + name + " is " + std::to_string(info.st_size) + " bytes, more than the " +
                std::to_string(max_bytes) + " a " + std::string(what) + " may have");
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("act: cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) break;  // the file shrank meanwhile: keep what is there
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return text;
}

}  // namespace act
