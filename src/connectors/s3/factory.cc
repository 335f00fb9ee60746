// Registers the `s3` endpoint type: options, defaults, credentials.
#include "connectors/http/aws.h"
#include "connectors/register.h"
#include "connectors/s3/endpoint.h"

namespace megasync::connectors {
void register_s3(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "s3";
  type.schema.description =
      "A bucket (or a key prefix in it) of Amazon S3 or an S3-compatible service.";
  type.schema.options = {
      OptionSpec{.name = "bucket",
                 .type = OptionType::kString,
                 .description = "The bucket's name.",
                 .required = true},
      OptionSpec{.name = "prefix",
                 .type = OptionType::kString,
                 .description = "Only keys under this prefix (a '/' is added when missing)."},
      OptionSpec{.name = "region",
                 .type = OptionType::kString,
                 .description = "The region requests are signed for.",
                 .default_value = "us-east-1"},
      OptionSpec{.name = "endpoint",
                 .type = OptionType::kString,
                 .description = "The service's URL (http://127.0.0.1:9000); default: AWS's "
                                "https://s3.<region>.amazonaws.com, or GCS's for provider gcs."},
      OptionSpec{.name = "path_style",
                 .type = OptionType::kBool,
                 .description = "Address the bucket in the path (http://host/bucket/key) rather "
                                "than the host name; default true when endpoint is set."},
      OptionSpec{.name = "create",
                 .type = OptionType::kBool,
                 .description = "Create the bucket when it does not exist.",
                 .default_value = "false"},
      OptionSpec{.name = "multipart_threshold",
                 .type = OptionType::kBytes,
                 .description = "Objects larger than this are uploaded in parts.",
                 .default_value = "64MiB"},
      OptionSpec{.name = "part_size",
                 .type = OptionType::kBytes,
                 .description = "The size of each part (5 MiB to 5 GiB; raised when an object "
                                "would need more than 10,000 parts).",
                 .default_value = "16MiB"},
      OptionSpec{.name = "part_concurrency",
                 .type = OptionType::kInt,
                 .description = "Parts of one object uploaded at once (each holds part_size "
                                "bytes in memory).",
                 .default_value = "2",
                 .min = 1,
                 .max = 16},
      OptionSpec{.name = "server_side_copy",
                 .type = OptionType::kBool,
                 .description = "Between two s3 endpoints of the same service URL, region and "
                                "access key, copy objects inside the service (CopyObject, up to "
                                "5 GiB) instead of through megasync.",
                 .default_value = "true"},
      OptionSpec{.name = "provider",
                 .type = OptionType::kString,
                 .description = "Service quirks: gcs deletes one key at a time (no "
                                "multi-object delete).",
                 .default_value = "aws",
                 .choices = {"aws", "minio", "gcs"}},
  };
  for (config::OptionSpec& spec : http::aws_credential_option_specs()) {
    type.schema.options.push_back(std::move(spec));
  }
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    s3::S3Options options;
    options.bucket = o.string("bucket");
    options.provider = o.string("provider");
    options.region = o.string("region");
    if (o.has("prefix")) {
      options.prefix = o.string("prefix");
      while (options.prefix.starts_with("/")) {
        options.prefix.erase(0, 1);
      }
      if (!options.prefix.empty() && !options.prefix.ends_with("/")) {
        options.prefix += "/";
      }
    }
    if (o.has("endpoint")) {
      options.endpoint = o.string("endpoint");
      while (options.endpoint.ends_with("/")) {
        options.endpoint.pop_back();
      }
      if (!options.endpoint.starts_with("http://") && !options.endpoint.starts_with("https://")) {
        return make_error(ErrorCode::kInvalidConfig,
                          "endpoint must be an http:// or https:// URL, got '{}'",
                          options.endpoint);
      }
      options.path_style = o.has("path_style") ? o.boolean("path_style") : true;
    } else if (options.provider == "gcs") {
      options.endpoint = "https://storage.googleapis.com";
      options.path_style = o.has("path_style") ? o.boolean("path_style") : true;
    } else {
      options.endpoint = "https://s3." + options.region + ".amazonaws.com";
      options.path_style = o.has("path_style") && o.boolean("path_style");
    }
    options.batch_delete = options.provider != "gcs";
    Result<http::AwsCredentials> credentials = http::read_aws_credentials(o);
    if (!credentials) {
      return fail(credentials.error());
    }
    options.access_key_id = credentials->access_key_id;
    options.secret_access_key = credentials->secret_access_key;
    options.session_token = credentials->session_token;
    options.multipart_threshold = o.bytes("multipart_threshold");
    options.part_size = o.bytes("part_size");
    options.part_concurrency = static_cast<int>(o.integer("part_concurrency"));
    constexpr std::uint64_t kMiB = 1ull << 20;
    if (options.part_size < 5 * kMiB || options.part_size > 5120 * kMiB) {
      return make_error(ErrorCode::kInvalidConfig,
                        "part_size must be between 5MiB and 5GiB (S3's limits)");
    }
    if (options.multipart_threshold < 5 * kMiB || options.multipart_threshold > 5120 * kMiB) {
      return make_error(ErrorCode::kInvalidConfig,
                        "multipart_threshold must be between 5MiB and 5GiB");
    }
    options.create = o.boolean("create");
    options.server_side_copy = o.boolean("server_side_copy");
    return std::make_shared<s3::S3Endpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
