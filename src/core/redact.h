// Keeps secrets out of logs, errors and API output.
//
// The config loader registers every secret value it meets (values of keys named
// like password/secret/token/key, values of secret-named variables). Anything
// that leaves the process as text — log lines, error messages, API documents —
// passes through redact(), which replaces each registered secret with "***".
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace megasync {

// Registers `value` as a secret. Values shorter than 3 characters are ignored:
// replacing them would mangle ordinary text and they protect nothing.
void register_secret(std::string_view value);

// Returns `text` with every registered secret replaced by "***", and the
// password of any URL userinfo ("scheme://user:pass@host") masked.
std::string redact(std::string_view text);

// Redacts every string (keys included) of a JSON document, value by value, so
// that the result is still valid JSON whatever the secrets look like.
nlohmann::json redact_json(const nlohmann::json& doc);

// True when a config key or variable name looks like it holds a secret
// (password, passwd, secret, token, key, credential, private, auth; any case).
bool is_secret_name(std::string_view name);

// Forgets every registered secret (tests only).
void clear_secrets_for_testing();

}  // namespace megasync
