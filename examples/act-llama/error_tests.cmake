# Runs act-llama with bad input and checks each case fails cleanly: a non-zero exit code (not a
# signal), and exactly one line on stderr, "act-llama: error: ..." matching the expected text.
# Cases needing a model use stories260K (skipped when ../shared is absent), which also serves one
# successful generation with --timing-json.
#   cmake -DRUNNER=act-llama -DSTORIES=stories260K.gguf -DWORK=dir -P error_tests.cmake
file(MAKE_DIRECTORY ${WORK})
set(failures 0)

function(expect_error name pattern)
  execute_process(COMMAND ${launcher} ${RUNNER} ${ARGN} RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
  string(STRIP "${err}" err)
  string(REGEX MATCHALL "\n" newlines "${err}")
  if(NOT code MATCHES "^[1-9][0-9]*$" OR code GREATER 127)
    message(SEND_ERROR "${name}: expected a non-zero exit code, got '${code}'")
  elseif(newlines)
    message(SEND_ERROR "${name}: expected one line on stderr, got:\n${err}")
  elseif(NOT err MATCHES "^act-llama: error: .*${pattern}")
    message(SEND_ERROR "${name}: stderr '${err}' does not match '${pattern}'")
  else()
    message(STATUS "${name}: ok (exit ${code}): ${err}")
  endif()
endfunction()

expect_error(no_subcommand "subcommand")
expect_error(unknown_flag "--bogus" generate -p hi --bogus)
expect_error(missing_prompt "prompt" generate -m ${WORK}/none.gguf)
expect_error(missing_model "model file not found: .*none.gguf" generate -m ${WORK}/none.gguf -p hi)
expect_error(threads_zero "threads" generate -p hi -t 0)
# libgomp crashed (SIGSEGV) from 65,281 threads: -t stops at act::parallel::max_threads.
expect_error(threads_huge "threads: must be a whole number in \\[1, 1024\\]" generate -p hi -t 70000)
# Whole numbers are decimal: CLI11 alone read 010 as octal 8 and 0x2 as hex.
expect_error(tokens_hex "max-tokens: must be a whole number >= 0, in decimal \\(got 0x2\\)" generate -p hi -n 0x2)
expect_error(beta_out_of_range "beta" generate -p hi --beta 1.5)
expect_error(tau_not_a_number "tau" generate -p hi --tau abc)
expect_error(negative_tokens "max-tokens" generate -p hi -n -3)
expect_error(unknown_subcommand "unknown subcommand 'genrate' \\(known: generate, " genrate -p hi)
expect_error(model_is_a_folder "not a regular file" generate -m ${WORK} -p hi)
expect_error(beta_nan "beta.*finite number in \\[0, 1\\]" generate -p hi --beta nan)
expect_error(temperature_inf "temperature" generate -p hi --temperature inf)
expect_error(top_p_zero "top-p.*\\(0, 1\\]" generate -p hi --top-p 0)
expect_error(min_gain_nan "min-gain" search-heads --tasks sst2 -o ${WORK}/h.json --min-gain nan)
expect_error(missing_head_file "act-heads" generate -p hi --act-heads ${WORK}/none.json)
# Seeds are uint64: the whole range is accepted (a run with 2^64 - 1 is below), nothing past it.
expect_error(seed_negative "--seed: must not be negative \\(got -1\\)" generate -p hi --seed -1)
expect_error(seed_above_uint64 "--seed: must be at most 18446744073709551615 \\(got 18446744073709551616\\)"
             generate -p hi --seed 18446744073709551616)
expect_error(seed_not_a_number "--seed: must be a whole number" generate -p hi --seed 1e3)
expect_error(seeds_above_uint64 "--seeds: must be at most" eval --task sst2 --seeds 1,99999999999999999999)
expect_error(control_seed_negative "--control-seed: must not be negative" eval --task sst2 --control-seed -5)
expect_error(factors_with_rescaler "--rescaler excludes --factors"
             search-heads --tasks sst2 -o ${WORK}/h.json --factors 0.5 --rescaler scale-only:1)
expect_error(factors_negative "--factors: must be a finite number in \\[0, .*\\] \\(got -1\\)" search-heads --tasks sst2 -o ${WORK}/h.json --factors 0.5,-1)
# Finite as a double, infinite as the float it is stored in: refused by the option, not after loading.
expect_error(factors_beyond_float "--factors: must be a finite number in" search-heads --tasks sst2 -o ${WORK}/h.json --factors 1e39)
# CLI11's delimiter dropped empty list items ("1,,2" was read as 1,2): each is an error now.
expect_error(tokens_empty_item "--tokens: empty item in the list \"1,,2\"" dump-logits --tokens 1,,2 -o ${WORK}/x)
expect_error(tokens_beyond_int32 "--tokens: must be a whole number in \\[0, 2147483647\\]" dump-logits --tokens 2147483648 -o ${WORK}/x)
expect_error(seeds_trailing_comma "--seeds: empty item in the list \"1,2,\"" eval --seeds 1,2,)
expect_error(factors_only_comma "--factors: empty item in the list \",\"" search-heads --factors ,)

# Without -m the runner looks in the cache the fetch script fills.
set(launcher ${CMAKE_COMMAND} -E env ACT_CACHE_DIR=${WORK}/empty_cache)
expect_error(default_model_missing "run tools/fetch_model.sh" generate -p hi)
unset(launcher)

file(WRITE ${WORK}/not_a_model.gguf "this is not a GGUF file\n")
expect_error(not_gguf "not_a_model.gguf" generate -m ${WORK}/not_a_model.gguf -p hi)

if(EXISTS ${STORIES})
  file(WRITE ${WORK}/outside.json
       "{\"format\": \"act-head-set\", \"version\": 1, \"beta\": 0.4, \"tau\": 0.1, \"heads\": [[99, 0]]}")
  file(WRITE ${WORK}/broken.json "{\"format\": \"act-head-set\", ")
  expect_error(head_outside_model "layer 99" generate -m ${STORIES} -p hi --act-heads ${WORK}/outside.json)
  expect_error(broken_head_file "invalid JSON" generate -m ${STORIES} -p hi --act-heads ${WORK}/broken.json)
  expect_error(context_overflow "the prompt is [0-9]+ tokens, more than the context of 4" generate -m ${STORIES} --ctx 4 -p "Once upon a time there was a cat")
  expect_error(context_above_model "exceeds the model" generate -m ${STORIES} --ctx 100000 -p hi)
  expect_error(heads_of_other_model "made for model 'Smollm2 .*', not 'llama' \\(pass --heads-any-model"
               generate -m ${STORIES} -p hi --act-heads ${CMAKE_CURRENT_LIST_DIR}/../../data/heads/smollm2-135m-shared.json)
  expect_error(prompt_file_device "prompt file /dev/zero is not a regular file" generate -m ${STORIES} --prompt-file /dev/zero)
  expect_error(prompt_and_prompt_file "excludes" generate -m ${STORIES} -p hi --prompt-file ${WORK}/none.txt)
  expect_error(dump_logits_ctx "the prompt is 3 tokens, more than the context of 2"
               dump-logits -m ${STORIES} --tokens 1,2,3 --ctx 2 -o ${WORK}/x.f32)
  expect_error(bad_token "outside the vocabulary" dump-logits -m ${STORIES} --tokens 1,99999 -o ${WORK}/x.f32)
  # stories260K has no chat markers: the template would be spelt as plain text.
  expect_error(chat_without_template "--chat writes SmolLM2's chat template, but this model has no <\\|im_start\\|> token"
               generate -m ${STORIES} --chat -p hi)
  # Refused before the run, not after it.
  expect_error(timing_json_no_folder "--timing-json: cannot write .*/no/t.json: folder .*/no does not exist"
               generate -m ${STORIES} -p hi --timing-json ${WORK}/no/t.json)

  # Past the file-size limit a write raised SIGXFSZ and killed the runner with its temporary file
  # left beside the output; now the write fails (EFBIG), is reported, and the temporary is removed.
  file(REMOVE_RECURSE ${WORK}/fsize)
  file(MAKE_DIRECTORY ${WORK}/fsize)
  execute_process(COMMAND sh -c "ulimit -f 1 && exec \"$0\" \"$@\"" ${RUNNER} dump-logits -m ${STORIES}
                          -p "Once upon a time there was" -o ${WORK}/fsize/logits.f32
                  RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
  file(GLOB left ${WORK}/fsize/*)
  if(NOT code EQUAL 1 OR NOT err MATCHES "^act-llama: error: .*File too large" OR left)
    message(SEND_ERROR "file-size limit: exit '${code}', stderr '${err}', files left: '${left}'")
  else()
    message(STATUS "file_size_limit: ok (exit ${code}): ${err}")
  endif()

  foreach(seed 9223372036854775808 18446744073709551615)
    execute_process(COMMAND ${RUNNER} generate -m ${STORIES} -p "Once" -n 2 -t 1 --temperature 1 --seed ${seed}
                    RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
    if(NOT code EQUAL 0)
      message(SEND_ERROR "generate --seed ${seed} failed (exit '${code}'): ${err}")
    endif()
  endforeach()

  file(REMOVE ${WORK}/timing.json)
  execute_process(COMMAND ${RUNNER} generate -m ${STORIES} -p "Once upon a time" -n 8 -t 1 --ignore-eos --timing-json ${WORK}/timing.json
                  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_QUIET)
  if(NOT code EQUAL 0 OR NOT EXISTS ${WORK}/timing.json)
    message(SEND_ERROR "generate with stories260K failed (exit '${code}')")
  else()
    file(READ ${WORK}/timing.json timing)
    string(JSON prompt_tokens GET "${timing}" prompt_tokens)
    string(JSON decode_tokens GET "${timing}" decode_tokens)
    if(NOT prompt_tokens GREATER 0 OR NOT decode_tokens EQUAL 7 OR out STREQUAL "")
      message(SEND_ERROR "generate: unexpected output '${out}' or timing ${timing}")
    endif()
  endif()
else()
  message(STATUS "stories260K not found at ${STORIES}: model-dependent cases skipped")
endif()

# The evaluation subcommands (eval, search-heads, sinks).
include(${CMAKE_CURRENT_LIST_DIR}/eval_error_tests.cmake)
