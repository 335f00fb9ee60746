// Text and byte helpers of the object store connectors (s3, azure_blob): URI
// encoding (as SigV4 signs it; Azure's SharedKey takes the same), the few XML
// shapes the stores answer with, their time formats, base64/hex and digests.
//
// Thread-safety: pure functions; a Digest is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace megasync::connectors::http {

// RFC 3986 encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - . _ ~ as
// %XX (upper-case hex); '/' kept when `keep_slash` (object keys in paths).
std::string uri_encode(std::string_view text, bool keep_slash);
// Decodes %XX (and '+' as itself); invalid escapes are kept as they are.
std::string uri_decode(std::string_view text);

// A query string in SigV4 canonical form: parameters sorted by name, names and
// values uri_encode()d, valueless ones as "name=". libcurl 7.88 signs the
// query verbatim, so URLs are built canonical from the start.
std::string canonical_query(std::vector<std::pair<std::string, std::string>> params);

// Escapes & < > " ' for XML text.
std::string xml_escape(std::string_view text);
// Resolves the five named entities and numeric character references.
std::string xml_unescape(std::string_view text);
// The raw inner text of each <tag>...</tag> element in `doc`, in order (not
// for tags nested in themselves; self-closing <tag/> gives "").
std::vector<std::string_view> xml_elements(std::string_view doc, std::string_view tag);
// The unescaped text of the first <tag> element, "" when there is none.
std::string xml_text(std::string_view doc, std::string_view tag);

// "2009-10-12T17:50:30.000Z" (listings) and "Wed, 12 Oct 2009 17:50:30 GMT"
// (headers); kPermanent when unreadable.
Result<WallTime> parse_iso8601(std::string_view text);
Result<WallTime> parse_http_date(std::string_view text);
// Milliseconds since the epoch ("1255369830123").
std::string format_millis(WallTime t);

std::string base64(std::string_view bytes);
std::string hex(std::string_view bytes);

// Incremental MD5 or SHA-256 (OpenSSL EVP).
class Digest {
 public:
  enum class Kind { kMd5, kSha256 };
  explicit Digest(Kind kind);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void update(std::string_view bytes);
  // The raw digest; call once.
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view bytes);
std::string md5_raw(std::string_view bytes);

}  // namespace megasync::connectors::http
