// Registers the `azure_blob` endpoint type: options, defaults, credentials.
#include "connectors/azure_blob/endpoint.h"
#include "connectors/register.h"
#include "core/redact.h"

namespace megasync::connectors {

void register_azure_blob(engine::Registry& registry) {
  using config::OptionSpec;
  using config::OptionType;
  engine::EndpointType type;
  type.name = "azure_blob";
  type.schema.description =
      "A container (or a name prefix in it) of Azure Blob Storage or Azurite.";
  type.schema.options = {
      OptionSpec{.name = "account",
                 .type = OptionType::kString,
                 .description = "The storage account's name.",
                 .required = true},
      OptionSpec{.name = "key",
                 .type = OptionType::kString,
                 .description = "The account key (base64), for SharedKey signing; use ${VAR}.",
                 .secret = true},
      OptionSpec{.name = "sas_token",
                 .type = OptionType::kString,
                 .description = "A shared access signature (sv=...&sig=...), instead of key.",
                 .secret = true},
      OptionSpec{.name = "container",
                 .type = OptionType::kString,
                 .description = "The container's name.",
                 .required = true},
      OptionSpec{.name = "prefix",
                 .type = OptionType::kString,
                 .description = "Only blobs under this prefix (a '/' is added when missing)."},
      OptionSpec{.name = "endpoint",
                 .type = OptionType::kString,
                 .description = "The Blob service URL; default https://<account>.blob.core."
                                "windows.net; Azurite: http://127.0.0.1:10000/<account>."},
      OptionSpec{.name = "create",
                 .type = OptionType::kBool,
                 .description = "Create the container when it does not exist.",
                 .default_value = "false"},
      OptionSpec{.name = "block_threshold",
                 .type = OptionType::kBytes,
                 .description = "Blobs larger than this are uploaded in blocks.",
                 .default_value = "64MiB"},
      OptionSpec{.name = "block_size",
                 .type = OptionType::kBytes,
                 .description = "The size of each block (64 KiB to 4000 MiB; raised when a blob "
                                "would need more than 50,000 blocks).",
                 .default_value = "4MiB"},
      OptionSpec{.name = "block_concurrency",
                 .type = OptionType::kInt,
                 .description = "Blocks of one blob uploaded at once; each holds block_size "
                                "bytes in memory.",
                 .default_value = "8",
                 .min = 1,
                 .max = 16},
  };
  type.create = [](const config::EndpointConfig& endpoint,
                   const config::Config&) -> Result<std::shared_ptr<engine::Endpoint>> {
    const config::Options& o = endpoint.options;
    azure_blob::AzureOptions options;
    options.account = o.string("account");
    options.container = o.string("container");
    if (o.has("prefix")) {
      options.prefix = o.string("prefix");
      while (options.prefix.starts_with("/")) {
        options.prefix.erase(0, 1);
      }
      if (!options.prefix.empty() && !options.prefix.ends_with("/")) {
        options.prefix += "/";
      }
    }
    options.endpoint = o.has("endpoint") ? o.string("endpoint")
                                         : "https://" + options.account + ".blob.core.windows.net";
    while (options.endpoint.ends_with("/")) {
      options.endpoint.pop_back();
    }
    if (!options.endpoint.starts_with("http://") && !options.endpoint.starts_with("https://")) {
      return make_error(ErrorCode::kInvalidConfig,
                        "endpoint must be an http:// or https:// URL, got '{}'", options.endpoint);
    }
    if (o.has("key")) {
      options.key = o.string("key");
    }
    if (o.has("sas_token")) {
      options.sas_token = o.string("sas_token");
      while (options.sas_token.starts_with("?")) {
        options.sas_token.erase(0, 1);
      }
    }
    register_secret(options.key);
    register_secret(options.sas_token);
    if (options.key.empty() == options.sas_token.empty()) {
      return make_error(ErrorCode::kInvalidConfig,
                        "set exactly one of key (the account key, e.g. key: "
                        "${{AZURE_STORAGE_KEY}}) and sas_token");
    }
    if (!options.key.empty()) {
      if (auto key = azure_blob::decode_key(options.key); !key) {
        return make_error(ErrorCode::kInvalidConfig, "key: {}", key.error().message());
      }
    }
    options.block_threshold = o.bytes("block_threshold");
    options.block_size = o.bytes("block_size");
    options.block_concurrency = static_cast<int>(o.integer("block_concurrency"));
    constexpr std::uint64_t kKiB = 1ull << 10;
    constexpr std::uint64_t kMiB = 1ull << 20;
    if (options.block_size < 64 * kKiB || options.block_size > 4000 * kMiB) {
      return make_error(ErrorCode::kInvalidConfig, "block_size must be between 64KiB and 4000MiB");
    }
    if (options.block_threshold < 1 * kMiB || options.block_threshold > 5000 * kMiB) {
      return make_error(ErrorCode::kInvalidConfig,
                        "block_threshold must be between 1MiB and 5000MiB (the "
                        "largest single Put Blob)");
    }
    options.create = o.boolean("create");
    return std::make_shared<azure_blob::AzureEndpoint>(std::move(options));
  };
  registry.add_endpoint_type(std::move(type));
}

}  // namespace megasync::connectors
