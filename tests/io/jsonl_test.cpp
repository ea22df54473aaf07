#include <act/io/jsonl.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using act::io::JsonlReader;

namespace {

std::vector<act::io::JsonlRecord> read_all(const std::string& text) {
  std::istringstream in(text);
  JsonlReader reader(in, "rows.jsonl");
  std::vector<act::io::JsonlRecord> out;
  while (auto r = reader.next()) out.push_back(std::move(*r));
  return out;
}

std::string error_of(const std::string& text) {
  try {
    read_all(text);
  } catch (const act::FormatError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("jsonl: records keep their line numbers and blank lines are skipped", "[io][jsonl]") {
  const auto rows = read_all("{\"a\": 1}\n\n   \t\r\n{\"a\": 2}\r\n\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].line() == 1);
  CHECK(rows[1].line() == 4);
  CHECK(rows[1].integer("a") == 2);
}

TEST_CASE("jsonl: a file without final newline and an empty file", "[io][jsonl]") {
  CHECK(read_all("{\"x\": \"y\"}").size() == 1);
  CHECK(read_all("").empty());
}

TEST_CASE("jsonl: a malformed line names source, line and column", "[io][jsonl]") {
  const std::string message = error_of("{\"a\": 1}\n\n{\"a\": tru}\n");
  CHECK(message.find("rows.jsonl:3:") != std::string::npos);
  CHECK(message.find("column 10") != std::string::npos);
  CHECK(message.find("invalid literal") != std::string::npos);
}

TEST_CASE("jsonl: truncated and binary lines are errors, not crashes", "[io][jsonl]") {
  CHECK(error_of("{\"a\": [1, 2\n").find("rows.jsonl:1: invalid JSON") != std::string::npos);
  CHECK(error_of(std::string("{\"a\": \"\xff\xfe\"}\n")).find("rows.jsonl:1: invalid JSON") != std::string::npos);
  CHECK(error_of(std::string("\0\0\0\n", 4)).find("rows.jsonl:1: invalid JSON") != std::string::npos);
  CHECK(error_of(std::string(100000, '[') + "\n").find("rows.jsonl:1: invalid JSON") != std::string::npos);
}

TEST_CASE("jsonl: typed accessors name the field", "[io][jsonl]") {
  const auto rows =
      read_all(R"({"text": "hi", "label": 2, "neg": -1, "f": 1.5, "choices": ["a", "b"], "bad": ["a", 3]})");
  const auto& r = rows.at(0);
  CHECK(r.string("text") == "hi");
  CHECK(r.index("label", 3) == 2);
  CHECK(r.number("f") == 1.5);
  CHECK(r.strings("choices") == std::vector<std::string>{"a", "b"});
  CHECK(r.has("text"));
  CHECK_FALSE(r.has("nope"));
  CHECK_THROWS_WITH(r.string("label"), "act: rows.jsonl:1: field \"label\" must be a string (got number 2)");
  CHECK_THROWS_WITH(r.index("label", 2), Catch::Contains("field \"label\" must be an integer in [0, 2)"));
  CHECK_THROWS_WITH(r.index("neg"), Catch::Contains("field \"neg\" must be an integer"));
  CHECK_THROWS_WITH(r.integer("f"), Catch::Contains("field \"f\" must be an integer (got number 1.5)"));
  CHECK_THROWS_WITH(r.strings("bad"), Catch::Contains("field \"bad\" must be an array of strings"));
  CHECK_THROWS_WITH(r.string("missing"), "act: rows.jsonl:1: missing field \"missing\"");
}

TEST_CASE("jsonl: a line that is not an object fails on field access", "[io][jsonl]") {
  const auto rows = read_all("[1, 2]\n");
  CHECK_THROWS_AS(rows.at(0).string("x"), act::FormatError);
  CHECK_THROWS_WITH(rows.at(0).string("x"), Catch::Contains("expected a JSON object, got array"));
}

TEST_CASE("jsonl: files", "[io][jsonl]") {
  const auto path = std::filesystem::temp_directory_path() / "act_jsonl_test.jsonl";
  {
    std::ofstream out(path);
    out << "{\"id\": \"a\"}\n{\"id\": \"b\"}\n";
  }
  const auto rows = act::io::read_jsonl(path);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].string("id") == "b");
  CHECK(rows[1].source() == path.string());
  std::filesystem::remove(path);
  CHECK_THROWS_AS(act::io::read_jsonl(path), act::Error);
}
