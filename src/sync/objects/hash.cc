#include "sync/objects/hash.h"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace megasync::sync::objects {

struct Sha256Sink::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256Sink::Sha256Sink() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}

Sha256Sink::~Sha256Sink() {
  EVP_MD_CTX_free(state_->ctx);
}

Status Sha256Sink::write(std::string_view chunk) {
  if (EVP_DigestUpdate(state_->ctx, chunk.data(), chunk.size()) != 1) {
    return make_error(ErrorCode::kPermanent, "SHA-256 update failed");
  }
  return ok();
}

std::string Sha256Sink::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(state_->ctx, digest, &length);
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += fmt::format("{:02x}", digest[i]);
  }
  return hex;
}

}  // namespace megasync::sync::objects
