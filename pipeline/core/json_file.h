// JSON read from files: parsed within a size limit, and every error naming the file and the key.
//
// nlohmann's accessors throw on a missing key or a value of another type. Code that interprets
// a file's JSON runs inside ReadJsonFields(file, fn), which turns any such exception into a
// Status::Corruption "<file>: at /training/seed: type must be number, but is string" (the
// build defines JSON_DIAGNOSTICS, so exceptions carry the JSON pointer of the value), so no
// user ever sees nlohmann's exception text. Accessors used there must be the throwing ones
// (at(), get<T>()), never operator[] on a const value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "pipeline/core/read_file.h"
#include "pipeline/core/status.h"

namespace petprep {

// "at /a/b: <what>" from a JSON exception, without nlohmann's "[json.exception...]" tag.
std::string JsonErrorText(const nlohmann::json::exception& e);

// A Corruption naming `file` and the value that failed.
Status JsonFieldError(const std::string& file, const nlohmann::json::exception& e);

// Parses a JSON file of at most kJsonFileLimit; an error names the file.
Status ReadJsonFile(const std::string& path, nlohmann::ordered_json* out);
Status ReadJsonFile(const std::string& path, nlohmann::json* out);
// Parses one line of a JSON-lines file; an error names the file and the line number.
Status ParseJsonLine(const std::string& line, const std::string& file, size_t number,
                     nlohmann::ordered_json* out);

// Runs `fn` (returning a Status or a Result) and turns a JSON access error inside it into
// JsonFieldError.
template <typename Fn>
auto ReadJsonFields(const std::string& file, Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const nlohmann::json::exception& e) {
    return JsonFieldError(file, e);
  }
}

}  // namespace petprep
