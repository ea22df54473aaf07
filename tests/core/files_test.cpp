// Whole-file reads and writes: atomic output (complete or absent, an old file survives a failed
// write, errors name the path) and capped reads of regular files only.
#include <act/core/files.hpp>

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path scratch_dir() {
  const fs::path dir = fs::temp_directory_path() / "act_atomic_file_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("atomic file: writes new files and replaces old ones whole", "[core][files]") {
  const fs::path dir = scratch_dir(), path = dir / "out.json";
  act::write_file_atomically(path, "first");
  CHECK(read_all(path) == "first");
  const std::string big(3 << 20, 'x');  // several write() calls' worth
  act::write_file_atomically(path, big);
  CHECK(read_all(path) == big);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no temporary left
}

TEST_CASE("atomic file: a failed write keeps the old file and names the path", "[core][files]") {
  const fs::path dir = scratch_dir(), path = dir / "kept.json";
  act::write_file_atomically(path, "valid");
  // The target is a folder: rename cannot replace it, and the error must say so, leaving no temporary.
  const fs::path folder = dir / "folder";
  fs::create_directories(folder);
  CHECK_THROWS_WITH(act::write_file_atomically(folder, "x"), Catch::Contains(folder.string()));
  CHECK_THROWS_AS(act::write_file_atomically(dir / "missing" / "out.json", "x"), act::Error);
  CHECK(read_all(path) == "valid");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 2);
}

TEST_CASE("atomic file: running out of space mid-write is an error and keeps the old file", "[core][files]") {
  // A file-size limit makes write() fail part way (EFBIG), as a full disk does (ENOSPC), without
  // needing a full disk: the old file must survive whole and no temporary may be left.
  const fs::path dir = scratch_dir(), path = dir / "kept.json";
  act::write_file_atomically(path, "valid");
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 1 << 20;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  CHECK_THROWS_WITH(act::write_file_atomically(path, std::string(3 << 20, 'x')), Catch::Contains("write"));
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(read_all(path) == "valid");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
}

TEST_CASE("atomic file: a target that is not a regular file is refused, not replaced", "[core][files]") {
  CHECK_THROWS_WITH(act::write_file_atomically("/dev/full", "x"), Catch::Contains("not a regular file"));
  CHECK(fs::is_character_file("/dev/full"));
}

TEST_CASE("regular file reads: size cap, devices, FIFOs and missing files", "[core][files]") {
  const fs::path dir = scratch_dir(), path = dir / "small.json";
  act::write_file_atomically(path, "12345");
  CHECK(act::read_regular_file(path, 5, "test file") == "12345");
  CHECK_THROWS_WITH(act::read_regular_file(path, 4, "test file"), Catch::Contains("more than the 4"));
  CHECK_THROWS_WITH(act::read_regular_file("/dev/zero", 1 << 20, "test file"), Catch::Contains("not a regular file"));
  const fs::path fifo = dir / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // Opened without blocking: no writer ever comes, yet this must return at once with an error.
  CHECK_THROWS_WITH(act::read_regular_file(fifo, 1 << 20, "test file"), Catch::Contains("not a regular file"));
  CHECK_THROWS_WITH(act::read_regular_file(dir / "none", 1 << 20, "test file"), Catch::Contains("No such file"));
  CHECK_THROWS_WITH(act::read_regular_file(dir, 1 << 20, "test file"), Catch::Contains("not a regular file"));
}
