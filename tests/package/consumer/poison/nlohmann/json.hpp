// Put first on core_consumer's include path: act/act.hpp must not include nlohmann_json.
#error "act::act must not need nlohmann_json: a header of the engine layer includes <nlohmann/json.hpp>"
