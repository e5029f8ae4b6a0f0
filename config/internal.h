// The steps of loading a config, in order (config.cc runs them). Internal to config/.
#pragma once

#include <cjson/cJSON.h>

#include "config/config.h"
#include "config/diagnostics.h"

namespace edge::config {

// Walks the JSON document against the field table: applies the table's defaults, then every
// value present; reports unknown fields (with a suggestion), wrong types, values outside their
// rule, duplicate keys and missing required fields. (parse_document.cc)
void ParseDocument(const cJSON* root, AgentConfig* config, Diagnostics* diag);

// Rules that involve more than one field: plaintext needs allow_plaintext, auth needs its
// credentials, routes need their exchanges, ring geometry, ... Also resolves derived values
// (endpoint ports). Warnings go to diag too. (validate.cc)
void ValidateConfig(AgentConfig* config, Diagnostics* diag);

// Checks the files the config refers to (exist, readable, executable, not readable by others
// where they hold secrets) and reads the password. (file_checks.cc)
void CheckFiles(AgentConfig* config, port::FileSystem* fs, const FileProbe* probe,
                Diagnostics* diag);

}  // namespace edge::config
