// `edge-agent check-config` and `edge-agent config-reference`. Each returns the process exit
// code (kExit* in agent/cli/commands.h).
#pragma once

#include <string>
#include <vector>

namespace edge::cli {

// `edge-agent check-config [--skip-file-checks] FILE`: loads FILE exactly as the daemon would.
// Prints "FILE: ok", the warnings and a short summary (no secrets), exit 0; or every error, one
// per line, exit 1. Bad arguments: exit 2. --skip-file-checks validates the document only
// (referenced files need not exist: useful on a build machine).
int CheckConfigCommand(const std::vector<std::string>& args);

// `edge-agent config-reference`: prints every configuration field as a Markdown table (the
// README's reference section is this output).
int ConfigReferenceCommand(const std::vector<std::string>& args);

}  // namespace edge::cli
