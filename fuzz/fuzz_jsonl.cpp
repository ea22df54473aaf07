// JSON Lines bytes -> JsonlReader, every accessor on every field of every record, and every
// evaluation task's parse_example on every record. A malformed line or row must end in
// act::FormatError naming the source and line, after which reading goes on with the next line.
#include <act/eval/tasks/example.hpp>
#include <act/eval/tasks/task.hpp>
#include <act/io/jsonl.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace {

using act::io::JsonlRecord;

void check_message(const act::FormatError& error) {
  FUZZ_CHECK(std::string_view(error.what()).starts_with("act: fuzz.jsonl:"));
}

// The accessors reject a field of another type, naming the source and line.
void read_field(const JsonlRecord& record, std::string_view key) {
  allow_only<act::FormatError>([&] { record.string(key); }, check_message);
  allow_only<act::FormatError>([&] { record.integer(key); }, check_message);
  allow_only<act::FormatError>([&] { record.index(key, 3); }, check_message);
  allow_only<act::FormatError>([&] { record.number(key); }, check_message);
  allow_only<act::FormatError>([&] { record.strings(key); }, check_message);
}

void read_every_field(const JsonlRecord& record) {
  if (record.value().is_object()) {
    for (const auto& item : record.value().items()) {
      FUZZ_CHECK(record.has(item.key()));
      read_field(record, item.key());
    }
  }
  read_field(record, "no such field");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  act::io::JsonlReader reader(in, "fuzz.jsonl");
  std::size_t last_line = 0;
  while (true) {
    try {
      const auto record = reader.next();
      if (!record) break;
      FUZZ_CHECK(record->line() > last_line);
      last_line = record->line();
      read_every_field(*record);
      for (const act::eval::Task& task : act::eval::all_tasks())
        allow_only<act::FormatError>([&] { act::eval::parse_example(task, *record); }, check_message);
    } catch (const act::FormatError& error) {
      check_message(error);
    }
  }
  return 0;
}
