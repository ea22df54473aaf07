// act-llama: runs llama GGUF models with ACT attention calibration.
// Every failure (bad flag, missing file, unsupported model, context overflow...) ends the program
// with one line on stderr and exit code 2 (bad usage) or 1 (anything else).
#include "subcommands.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace {

constexpr void (*subcommands[])(CLI::App&) = {
    act_llama::register_generate,
    act_llama::register_dump_logits,
    act_llama::register_eval,
    act_llama::register_search_heads,
    act_llama::register_sinks,
};

std::string known_subcommands(const CLI::App& app) {
  std::string names;
  for (const CLI::App* command : app.get_subcommands({}))
    names += (names.empty() ? "" : ", ") + command->get_name();
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"act-llama: llama GGUF inference with ACT attention calibration"};
  app.require_subcommand(1);
  for (const auto add : subcommands) add(app);
  try {
    app.parse(argc, argv);  // subcommands run in their callbacks
  } catch (const CLI::Success& done) {
    return app.exit(done);  // --help
  } catch (const CLI::ParseError& error) {
    // CLI11 reports a misspelt subcommand as a missing one; name it instead.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::cerr << "act-llama: error: unknown subcommand '" << argv[1] << "' (known: " << known_subcommands(app)
                << "; see --help)\n";
      return 2;
    }
    std::cerr << "act-llama: error: " << error.what() << " (see --help)\n";
    return 2;  // bad usage, the usual code of command-line tools (CLI11's own are 101 and up)
  } catch (const std::exception& error) {
    std::cerr << "act-llama: error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
