// Bearer-token authentication for the router: parsing the Authorization
// header, matching a token against the configured SHA-256 hashes, roles.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace megasync::api {

// The token of an `Authorization: Bearer <token>` header value (scheme
// case-insensitive, RFC 7235). nullopt when the scheme is not Bearer or the
// token is empty or contains spaces.
std::optional<std::string> parse_bearer(std::string_view header_value);

// The configured token whose hash is sha256_hex(bearer), or nullptr. Every
// configured hash is compared in constant time and the loop never stops
// early, so timing reveals neither which token matched nor how much of a hash.
const config::ApiToken* find_token(const std::vector<config::ApiToken>& tokens,
                                   const std::string& bearer);

// True when a caller with role `have` may do what needs role `need`.
bool role_allows(config::Role have, config::Role need);

// "viewer", "operator", "admin" (local: config's to_string lives in another module).
std::string_view role_name(config::Role role);

}  // namespace megasync::api
