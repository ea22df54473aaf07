// act::eval from a downstream project: a task's prompt for one row, as the evaluation builds it.
#include <act/eval/tasks/prompt.hpp>

#include <cstdio>
#include <string>

int main() {
  const act::eval::Task& task = act::eval::find_task("sst2");
  act::eval::Example row;
  row.fields["text"] = "a gripping film";
  const std::string prompt = act::eval::classification_prompt(task, row);
  if (prompt.find("a gripping film") == std::string::npos || prompt.find("Sentiment") == std::string::npos)
    return std::printf("unexpected prompt: %s\n", prompt.c_str()), 1;
  std::puts("act consumer ok (eval)");
  return 0;
}
