// An independent AWS SigV4 signer for tests (OpenSSL only, nothing from the
// connectors' code), checked against AWS's published examples in
// s3_sigv4_test.cc: the s3 and sqs tests recompute with it the signature of
// each request libcurl sent to a loopback server, since the emulators
// (s3rver, fauxqs) do not check signatures.
//
// Thread-safety: pure functions.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace megasync::connectors::http::testing {

inline std::string ref_hex(const unsigned char* data, std::size_t n) {
  std::ostringstream out;
  for (std::size_t i = 0; i < n; ++i) {
    static const char* digits = "0123456789abcdef";
    out << digits[data[i] >> 4] << digits[data[i] & 15];
  }
  return out.str();
}

inline std::string ref_sha256(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  return ref_hex(out, n);
}

inline std::string ref_hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

// RFC 3986 unreserved kept, everything else %XX upper-case.
inline std::string ref_encode(const std::string& text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

inline std::string ref_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct SignInput {
  std::string method, canonical_uri, canonical_query;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case, sorted, trimmed
  std::string payload_hash, amz_date, region, service, secret;
};

inline std::string ref_signature(const SignInput& in) {
  std::string canonical = in.method + "\n" + in.canonical_uri + "\n" + in.canonical_query + "\n";
  std::string signed_headers;
  for (const auto& [name, value] : in.headers) {
    canonical += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  canonical += "\n" + signed_headers + "\n" + in.payload_hash;
  const std::string date = in.amz_date.substr(0, 8);
  const std::string scope = date + "/" + in.region + "/" + in.service + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + in.amz_date + "\n" + scope + "\n" + ref_sha256(canonical);
  std::string key = ref_hmac("AWS4" + in.secret, date);
  key = ref_hmac(key, in.region);
  key = ref_hmac(key, in.service);
  key = ref_hmac(key, "aws4_request");
  const std::string sig = ref_hmac(key, to_sign);
  return ref_hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

inline const std::string kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace megasync::connectors::http::testing
