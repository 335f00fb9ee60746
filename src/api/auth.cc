#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>

#include "api/router.h"

namespace megasync::api {

std::string sha256_hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  // EVP_Digest only fails on allocation failure; an empty hash then never
  // matches a configured one, which fails closed.
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

std::optional<std::string> parse_bearer(std::string_view header_value) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!header_value.empty() && is_space(header_value.front())) {
    header_value.remove_prefix(1);
  }
  while (!header_value.empty() && is_space(header_value.back())) {
    header_value.remove_suffix(1);
  }
  constexpr std::string_view kScheme = "bearer";
  if (header_value.size() <= kScheme.size() || !is_space(header_value[kScheme.size()])) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header_value[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view token = header_value.substr(kScheme.size());
  while (!token.empty() && is_space(token.front())) {
    token.remove_prefix(1);
  }
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(token);
}

const config::ApiToken* find_token(const std::vector<config::ApiToken>& tokens,
                                   const std::string& bearer) {
  const std::string hash = sha256_hex(bearer);
  const config::ApiToken* found = nullptr;
  for (const config::ApiToken& token : tokens) {
    if (token.sha256.size() == hash.size() &&
        CRYPTO_memcmp(token.sha256.data(), hash.data(), hash.size()) == 0 && found == nullptr) {
      found = &token;
    }
  }
  return found;
}

bool role_allows(config::Role have, config::Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

std::string_view role_name(config::Role role) {
  switch (role) {
    case config::Role::kViewer:
      return "viewer";
    case config::Role::kOperator:
      return "operator";
    case config::Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

}  // namespace megasync::api
