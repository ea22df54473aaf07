// split_fields keeps empty fields, so callers can refuse "1,,2" instead of reading it as "1,2".
#include <act/core/fields.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

TEST_CASE("split_fields keeps every field, empty ones included", "[core][fields]") {
  using Fields = std::vector<std::string>;
  CHECK(act::split_fields("column-mean:0.1:first", ':') == Fields{"column-mean", "0.1", "first"});
  CHECK(act::split_fields("1,,2", ',') == Fields{"1", "", "2"});
  CHECK(act::split_fields("1,2,", ',') == Fields{"1", "2", ""});
  CHECK(act::split_fields(",", ',') == Fields{"", ""});
  CHECK(act::split_fields("", ',') == Fields{""});
  CHECK(act::split_fields("a:b", ',') == Fields{"a:b"});
}
