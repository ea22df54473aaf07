// act-llama-cpp: ACT inside an unpatched llama.cpp (its public C API and graph callback), with
// act-llama's command lines. Every failure ends the program with one line on stderr and exit code
// 2 (bad usage) or 1 (anything else), as act-llama does.
#include "cli.hpp"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  act_llama::report_oversized_writes();
  CLI::App app{"act-llama-cpp: GGUF inference through llama.cpp with ACT attention calibration"};
  app.require_subcommand(1);
  for (const auto add :
       {act_llama_cpp::register_dump_logits, act_llama_cpp::register_generate, act_llama_cpp::register_eval,
        act_llama_cpp::register_bench, act_llama_cpp::register_parity, act_llama_cpp::register_check_maps})
    add(app);
  try {
    app.parse(argc, argv);  // subcommands run in their callbacks
  } catch (const CLI::Success& done) {
    return app.exit(done);  // --help
  } catch (const CLI::ParseError& error) {
    std::cerr << "act-llama-cpp: error: " << act_llama::printable_line(error.what()) << " (see --help)\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "act-llama-cpp: error: " << act_llama::printable_line(error.what()) << '\n';
    return 1;
  }
  return 0;
}
