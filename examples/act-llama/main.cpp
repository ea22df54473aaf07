// act-llama: runs llama GGUF models with ACT attention calibration.
// Every failure (bad flag, missing file, unsupported model, context overflow...) ends the program
// with one line on stderr and exit code 2 (bad usage) or 1 (anything else).
#include "subcommands.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>

namespace {

constexpr void (*subcommands[])(CLI::App&) = {
    act_llama::register_generate,     act_llama::register_dump_logits, act_llama::register_eval,
    act_llama::register_search_heads, act_llama::register_sinks,
};

std::string known_subcommands(const CLI::App& app) {
  std::string names;
  for (const CLI::App* command : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + command->get_name();
  return names;
}

// Output that never reached standard output (a full disk, a closed pipe) is a failed run, even
// when the error only shows when the last buffered bytes are flushed at exit.
bool stdout_failed() {
  std::cout.flush();
  return !std::cout || std::fflush(stdout) != 0 || std::ferror(stdout) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  act_llama::report_oversized_writes();
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
    std::cerr << "act-llama: error: " << act_llama::printable_line(error.what()) << " (see --help)\n";
    return 2;  // bad usage, the usual code of command-line tools (CLI11's own are 101 and up)
  } catch (const act_llama::ReportedFailure&) {
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "act-llama: error: out of memory: use a shorter prompt or --ctx, fewer rows (--limit, --prompts) "
                 "or fewer threads (-t)\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "act-llama: error: " << act_llama::printable_line(error.what()) << '\n';
    return 1;
  }
  if (stdout_failed()) {
    std::cerr << "act-llama: error: cannot write to standard output (disk full or pipe closed?)\n";
    return 1;
  }
  return 0;
}
