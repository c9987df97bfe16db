// Commands for a person to paste into a POSIX shell, built so that pasting runs only them.
//
// Every command line petprep prints (the report's "Reproduce" block, "run: petprep ..." in a
// message) is made here: a word of characters outside [A-Za-z0-9_./:=@%+-] (or an empty one)
// is put in single quotes, a quote inside as '\''. Nothing inside single quotes is special to
// the shell: not ; & | $ ` \, not a newline. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace petprep {

// `word` as one shell word.
std::string ShellQuote(std::string_view word);

// The words, each quoted, joined by spaces: ShellCommand({"petprep", "verify", dir}).
std::string ShellCommand(const std::vector<std::string>& words);

}  // namespace petprep
