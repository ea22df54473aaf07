#pragma once
// What the fuzz targets share: asserting a property, and telling the documented failure of a
// call from anything else. A failed property or an exception that escapes makes libFuzzer save
// the input as a crash.
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                               \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

// Runs `action`; an `Expected` exception is its documented failure and goes to `inspect`.
template <class Expected, class Action, class Inspect>
void allow_only(Action action, Inspect inspect) {
  try {
    action();
  } catch (const Expected& error) {
    inspect(error);
  }
}

template <class Expected, class Action>
void allow_only(Action action) {
  allow_only<Expected>(action, [](const Expected&) {});
}
