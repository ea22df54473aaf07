// Catch2 main. ACT_REQUIRE=shared|smollm makes the run exit with 77 (CTest: skipped) and a clear
// message when that data is missing, instead of failing or silently passing.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "test_paths.hpp"

#include <cstdio>
#include <cstring>

int main(int argc, char* argv[]) {
  if (const char* need = std::getenv("ACT_REQUIRE")) {
    if (std::strcmp(need, "shared") == 0 && !act::testing::shared_dir()) {
      std::puts("SKIP: ../shared not found beside the checkout (set ACT_SHARED_DIR)");
      return 77;
    }
    if (std::strcmp(need, "smollm") == 0 && !act::testing::smollm_path()) {
      std::puts("SKIP: SmolLM2 model not fetched (run tools/fetch_model.sh or set ACT_MODEL)");
      return 77;
    }
  }
  return Catch::Session().run(argc, argv);
}
