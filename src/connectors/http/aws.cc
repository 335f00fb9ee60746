#include "connectors/http/aws.h"

#include <cstdlib>

#include "core/redact.h"

namespace megasync::connectors::http {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

std::vector<config::OptionSpec> aws_credential_option_specs() {
  using config::OptionSpec;
  using config::OptionType;
  return {
      OptionSpec{.name = "access_key_id",
                 .type = OptionType::kString,
                 .description = "Default: the AWS_ACCESS_KEY_ID variable.",
                 .secret = true},
      OptionSpec{.name = "secret_access_key",
                 .type = OptionType::kString,
                 .description = "Default: the AWS_SECRET_ACCESS_KEY variable (use ${VAR}).",
                 .secret = true},
      OptionSpec{.name = "session_token",
                 .type = OptionType::kString,
                 .description = "Temporary credentials' token; default: AWS_SESSION_TOKEN.",
                 .secret = true},
  };
}

Result<AwsCredentials> read_aws_credentials(const config::Options& o) {
  AwsCredentials c;
  c.access_key_id = o.has("access_key_id") ? o.string("access_key_id") : env("AWS_ACCESS_KEY_ID");
  c.secret_access_key =
      o.has("secret_access_key") ? o.string("secret_access_key") : env("AWS_SECRET_ACCESS_KEY");
  c.session_token = o.has("session_token") ? o.string("session_token") : env("AWS_SESSION_TOKEN");
  register_secret(c.secret_access_key);
  register_secret(c.session_token);
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "no credentials: set access_key_id and secret_access_key "
                      "(e.g. secret_access_key: ${{AWS_SECRET}}), or the AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY variables");
  }
  return c;
}

void sign_aws(Request& request, const AwsCredentials& credentials, const std::string& region,
              const std::string& service) {
  request.aws_sigv4 = "aws:amz:" + region + ":" + service;
  request.credentials = credentials.access_key_id + ":" + credentials.secret_access_key;
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
}

}  // namespace megasync::connectors::http
