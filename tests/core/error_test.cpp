// act::Error keeps a message whole: a NUL byte quoted from a file would otherwise end what() early.
#include <act/core/error.hpp>

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("Error messages keep what follows a NUL byte", "[core][error]") {
  const std::string quoted("key 'a\0b' is bad", 16);
  CHECK(std::string(act::Error(quoted).what()) == "key 'a\\x00b' is bad");
  CHECK(std::string(act::FormatError(quoted).what()) == "key 'a\\x00b' is bad");
  CHECK(std::string(act::UnsupportedError(quoted).what()) == "key 'a\\x00b' is bad");
  CHECK(std::string(act::Error("plain text").what()) == "plain text");
  const act::Error& as_base = act::FormatError(quoted);
  CHECK(dynamic_cast<const act::FormatError*>(&as_base) != nullptr);
}
