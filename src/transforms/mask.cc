#include "transforms/mask.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "transforms/fields.h"

namespace megasync::transforms {

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string Mask::mask(const std::string& text) const {
  switch (kind_) {
    case MaskKind::kHmac:
      return hmac_sha256_hex(secret_or_value_, text);
    case MaskKind::kFixed:
      return secret_or_value_;
    case MaskKind::kPartial: {
      // Counts bytes; a multi-byte UTF-8 character at the cut would be split, so
      // the cut moves forward to the start of a character.
      std::size_t from = text.size() > keep_last_ ? text.size() - keep_last_ : text.size();
      while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) {
        ++from;
      }
      return "****" + text.substr(from);
    }
  }
  return secret_or_value_;
}

Status Mask::apply_schema(CollectionSchema& schema) const {
  for (const std::string& field : fields_) {
    if (schema.column(field) == nullptr) {
      return make_error(ErrorCode::kInvalidConfig, "mask: {} has no field {}", schema.name, field);
    }
    if (is_key(schema, field)) {
      return make_error(ErrorCode::kInvalidConfig, "mask: {} is a key column of {}", field,
                        schema.name);
    }
  }
  for (Column& column : schema.columns) {
    if (fields_.count(column.name) != 0) {
      column.type = ColumnType::kText;
      column.source_type.clear();
    }
  }
  return ok();
}

Result<bool> Mask::apply(Change& change, const CollectionSchema& /*schema*/) const {
  for (auto& [name, value] : change.fields) {
    if (fields_.count(name) != 0 && !is_null(value)) {
      value = mask(to_text(value));
    }
  }
  return true;
}

}  // namespace megasync::transforms
