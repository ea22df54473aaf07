#pragma once
// Read-only memory mapping of a whole file (POSIX). Model files are large and read sparsely, so
// mapping beats reading them into memory. Empty files are represented without a mapping, since
// mmap rejects length 0.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <act/core/error.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <utility>

namespace act::io {

class MappedFile {
 public:
  // Throws act::Error naming the path and the system's reason when the file cannot be mapped.
  explicit MappedFile(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open", errno);
    try {
      map_descriptor(fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);  // the mapping stays valid without the descriptor
  }

  MappedFile(MappedFile&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  ~MappedFile() { unmap(); }

  std::span<const std::byte> bytes() const noexcept { return {static_cast<const std::byte*>(data_), size_}; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void map_descriptor(int fd) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) fail("cannot stat", errno);
    if (!S_ISREG(info.st_mode)) throw Error("cannot map " + path_.string() + ": not a regular file");
    if (static_cast<unsigned long long>(info.st_size) > std::numeric_limits<std::size_t>::max()) {
      throw Error("cannot map " + path_.string() + ": file too large for the address space");
    }
    const auto size = static_cast<std::size_t>(info.st_size);
    if (size == 0) return;
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) fail("cannot map", errno);
    data_ = data;
    size_ = size;
  }

  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }

  [[noreturn]] void fail(const char* action, int error_number) const {
    throw Error(std::string(action) + " " + path_.string() + ": " + std::strerror(error_number));
  }

  std::filesystem::path path_;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace act::io
