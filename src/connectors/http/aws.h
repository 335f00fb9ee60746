// AWS credentials and request signing shared by the connectors that speak to
// AWS services over the HTTP client (s3, sqs): the credential options every
// such endpoint declares, reading them from the endpoint's config or the
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables, and
// setting a Request up for libcurl's SigV4 signing.
//
// Thread-safety: values and pure functions (read_aws_credentials reads the
// environment and registers the secrets with redact()).
#pragma once

#include <string>
#include <vector>

#include "config/options.h"
#include "connectors/http/client.h"
#include "core/error.h"

namespace megasync::connectors::http {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never logged
  std::string session_token;      // secret; empty unless temporary credentials
};

// access_key_id, secret_access_key, session_token (the secret ones marked so).
std::vector<config::OptionSpec> aws_credential_option_specs();

// The credentials from the options declared above, each defaulting to its
// AWS_* variable; the secrets are registered with redact(). kInvalidConfig
// when the key id or the secret is missing.
Result<AwsCredentials> read_aws_credentials(const config::Options& options);

// Has libcurl sign `request` with SigV4 for `service` in `region`
// ("aws:amz:<region>:<service>"), adding x-amz-security-token when the
// credentials are temporary.
void sign_aws(Request& request, const AwsCredentials& credentials, const std::string& region,
              const std::string& service);

}  // namespace megasync::connectors::http
