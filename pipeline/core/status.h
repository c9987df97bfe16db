// Status and Result<T>: how every library function reports success or an error.
//
// Library code never exits and never throws across its boundary; it returns a Status
// (or a Result<T> holding either a value or an error Status). Only tools/ turns a Status
// into a message on stderr and an exit code. Chains keep the first error:
//
//   Status s = Open(path);
//   if (s.ok()) s = Write(data);
//   return s;
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace petprep {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (a usage error at the CLI)
    kNotFound,         // a named file or record does not exist
    kAlreadyExists,    // an output exists and would be overwritten
    kCorruption,       // data failed a check (hash, CRC, magic bytes, decoding)
    kIoError,          // the operating system refused a read or write
    kNetworkError,     // a transfer failed
    kInterrupted,      // the user asked to stop (SIGINT / SIGTERM)
    kUnavailable,      // a facility is not present here (e.g. no CUDA device)
    kInternal,         // a broken invariant: a bug in petprep
  };

  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status NetworkError(std::string msg) { return {Code::kNetworkError, std::move(msg)}; }
  static Status Interrupted(std::string msg = "interrupted") {
    return {Code::kInterrupted, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsInterrupted() const { return code_ == Code::kInterrupted; }

  // "<code name>: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// Either a value of type T or an error Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace petprep

// Returns from the enclosing function when `expr` yields an error Status.
#define PETPREP_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::petprep::Status petprep_status_ = (expr);        \
    if (!petprep_status_.ok()) return petprep_status_; \
  } while (0)
