// MappedFile: contents, empty files, and the errors for paths that cannot be mapped.
#include <unistd.h>

#include <act/io/mapped_file.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

using act::io::MappedFile;

namespace {

// A file under the temp folder, removed when the test ends.
struct TempFile {
  explicit TempFile(const std::string& contents)
      : path(std::filesystem::temp_directory_path() /
             ("act_io_mapped_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))) {
    std::ofstream(path, std::ios::binary) << contents;
  }
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  static inline int counter = 0;
  std::filesystem::path path;
};

std::string text_of(const MappedFile& file) {
  const auto bytes = file.bytes();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string error_of(const std::filesystem::path& path) {
  try {
    MappedFile file(path);
  } catch (const act::Error& error) {
    return error.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("io.mapped_file: maps the whole file read-only", "[mapped_file]") {
  const TempFile temp("hello, mapping");
  const MappedFile file(temp.path);
  CHECK(text_of(file) == "hello, mapping");
  CHECK(file.path() == temp.path);
}

TEST_CASE("io.mapped_file: empty files give an empty span", "[mapped_file]") {
  const TempFile temp("");
  const MappedFile file(temp.path);
  CHECK(file.bytes().empty());
}

TEST_CASE("io.mapped_file: moves transfer the mapping", "[mapped_file]") {
  const TempFile first("first");
  const TempFile second("second file");
  MappedFile a(first.path);
  MappedFile b(std::move(a));
  CHECK(text_of(b) == "first");
  CHECK(a.bytes().empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  MappedFile c(second.path);
  c = std::move(b);
  CHECK(text_of(c) == "first");
  CHECK(c.path() == first.path);
}

TEST_CASE("io.mapped_file: errors name the path and the reason", "[mapped_file]") {
  const auto missing = std::filesystem::temp_directory_path() / "act_io_no_such_file.gguf";
  CHECK_THAT(error_of(missing), Catch::Contains(missing.string()) && Catch::Contains("No such file or directory"));
  const auto folder = std::filesystem::temp_directory_path();
  CHECK_THAT(error_of(folder), Catch::Contains(folder.string()) && Catch::Contains("not a regular file"));
}
