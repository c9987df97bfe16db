#include "pipeline/core/json_file.h"

namespace petprep {
namespace {

template <typename Json>
Status ParseInto(const std::string& text, const std::string& where, Json* out) {
  try {
    *out = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(where + ": not valid JSON (" + JsonErrorText(e) + ")");
  }
  return Status::Ok();
}

template <typename Json>
Status ReadInto(const std::string& path, Json* out) {
  auto text = ReadFile(path, kJsonFileLimit);
  if (!text.ok()) return text.status();
  return ParseInto(*text, path, out);
}

}  // namespace

std::string JsonErrorText(const nlohmann::json::exception& e) {
  std::string what = e.what();
  // "[json.exception.type_error.302] (/a/b) type must be ..." -> "at /a/b: type must be ..."
  if (what.rfind("[json.exception.", 0) == 0) {
    size_t close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
  }
  if (what.rfind("(", 0) == 0) {
    size_t close = what.find(") ");
    if (close != std::string::npos) {
      std::string pointer = what.substr(1, close - 1);
      what = "at " + (pointer.empty() ? std::string("the top level") : pointer) + ": " +
             what.substr(close + 2);
    }
  } else if (what.rfind("syntax error", 0) != 0 && what.rfind("parse error", 0) != 0) {
    what = "at the top level: " + what;
  }
  return what;
}

Status JsonFieldError(const std::string& file, const nlohmann::json::exception& e) {
  return Status::Corruption(file + ": " + JsonErrorText(e));
}

Status ReadJsonFile(const std::string& path, nlohmann::ordered_json* out) {
  return ReadInto(path, out);
}

Status ReadJsonFile(const std::string& path, nlohmann::json* out) { return ReadInto(path, out); }

Status ParseJsonLine(const std::string& line, const std::string& file, size_t number,
                     nlohmann::ordered_json* out) {
  return ParseInto(line, file + ": line " + std::to_string(number), out);
}

}  // namespace petprep
