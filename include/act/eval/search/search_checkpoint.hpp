#pragma once
// A head search's progress on disk, as JSON lines: a header naming the search (model, beta, tau,
// a digest of the prompts) and one line per finished head, in the HeadSet measurement layout:
//
//   {"format": "act-head-search-checkpoint", "version": 1, "search": {...}}
//   {"layer": 3, "head": 5, "values": {"accuracy": 0.61, "accuracy_gain": 0.02, ...}}
//
// Heads are appended a layer at a time with one write and a flush, so an interrupted search
// loses at most the layer in flight. A final line without its newline (a write cut short) is
// dropped on reopening; any other malformed line, and any value out of range or inconsistent with
// the search's prompt count (HeadEffect::from_values), is an error. The file is created
// exclusively, so two searches started on one path cannot both write a header.
#include <act/core/files.hpp>
#include <act/eval/search/head_effect.hpp>
#include <act/io/jsonl.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace act::eval {

// One head's line: {"layer": 3, "head": 5, "values": {...}}.
inline nlohmann::json effect_row(const HeadEffect& e) {
  return {{"layer", e.id.layer}, {"head", e.id.head}, {"values", e.values()}};
}

class SearchCheckpoint {
 public:
  // Opens `path`, creating it when absent. `search` identifies the search and holds its prompt
  // count as "prompts". Throws act::FormatError when the file was written for a different search
  // or is malformed, act::Error when it cannot be read or written.
  SearchCheckpoint(std::filesystem::path path, nlohmann::json search) : path_(std::move(path)) {
    const auto& prompts = search.at("prompts");
    if (!prompts.is_number_integer() || prompts.get<std::int64_t>() < 0)
      throw std::invalid_argument("act: a search's \"prompts\" must be a count");
    prompts_ = prompts.get<std::size_t>();
    if (!create(nlohmann::json{{"format", "act-head-search-checkpoint"}, {"version", 1}, {"search", search}}.dump() +
                "\n"))
      load(search);
  }

  const std::map<HeadId, HeadEffect>& done() const noexcept { return done_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  void append(std::span<const HeadEffect> effects) {
    std::string lines;
    for (const HeadEffect& e : effects) {
      lines += effect_row(e).dump() + "\n";
      done_[e.id] = e;
    }
    write(lines);
  }

 private:
  void load(const nlohmann::json& search) {
    std::string text = read_all();
    if (!text.empty() && text.back() != '\n') {
      text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
      std::filesystem::resize_file(path_, text.size());  // later appends start on a fresh line
    }
    std::istringstream in(text);
    io::JsonlReader reader(in, path_.string());
    const auto header = reader.next();
    if (!header || !header->has("format") || header->string("format") != "act-head-search-checkpoint")
      throw FormatError("act: " + path_.string() + " is not a head search checkpoint");
    if (!header->has("version") || header->value()["version"] != 1)
      throw FormatError("act: " + path_.string() + ": checkpoint version must be 1 (the only one this reader knows)");
    if (!header->has("search") || header->value()["search"] != search)
      // The file's own header is not echoed: it may be arbitrarily large; ours is small.
      throw FormatError("act: " + path_.string() +
                        " was written for a different search (model, prompts, beta or tau differ); this one is " +
                        search.dump() + ". Use another checkpoint file.");
    while (auto row = reader.next()) {
      const HeadId id{static_cast<std::uint32_t>(row->index("layer", 1u << 20)),
                      static_cast<std::uint32_t>(row->index("head", 1u << 20))};
      if (done_.contains(id))  // a search writes each head once: a second line is an edit or a damage
        row->fail("head [" + std::to_string(id.layer) + ", " + std::to_string(id.head) + "] appears twice");
      if (!row->has("values") || !row->value()["values"].is_object()) row->fail("field \"values\" must be an object");
      std::map<std::string, double> values;
      for (const auto& [key, value] : row->value()["values"].items()) {
        if (!value.is_number()) row->fail("values." + key + " must be a number");
        values[key] = value.get<double>();
      }
      try {
        done_[id] = HeadEffect::from_values(id, values, prompts_);
      } catch (const FormatError& e) {
        row->fail(e.what());
      }
    }
  }

  std::string read_all() const {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw Error("act: cannot read checkpoint " + path_.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Writes `header` to a new file at path_; false when the file already exists.
  bool create(const std::string& header) const {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) return false;
    if (fd < 0) throw Error("act: cannot create checkpoint " + path_.string() + ": " + std::strerror(errno));
    const int error = act::detail::write_all(fd, header);
    ::close(fd);
    if (error != 0) throw Error("act: cannot write checkpoint " + path_.string() + ": " + std::strerror(error));
    return true;
  }

  void write(const std::string& text) const {
    std::ofstream out(path_, std::ios::binary | std::ios::app);
    out << text;
    out.flush();
    if (!out) throw Error("act: cannot write checkpoint " + path_.string());
  }

  std::filesystem::path path_;
  std::size_t prompts_ = 0;
  std::map<HeadId, HeadEffect> done_;
};

}  // namespace act::eval
