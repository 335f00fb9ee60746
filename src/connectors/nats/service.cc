#include "connectors/nats/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace megasync::connectors::nats {
namespace {

std::vector<std::string_view> tokens(std::string_view subject) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= subject.size(); ++i) {
    if (i == subject.size() || subject[i] == '.') {
      out.push_back(subject.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

std::string default_durable(std::string_view job) {
  std::string name = "megasync-";
  for (char c : job) {
    const bool bad = c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' ||
                     static_cast<unsigned char>(c) <= ' ';
    name.push_back(bad ? '_' : c);
  }
  return name;
}

bool subject_matches(std::string_view pattern, std::string_view subject) {
  const std::vector<std::string_view> want = tokens(pattern);
  const std::vector<std::string_view> have = tokens(subject);
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == ">" && i + 1 == want.size()) {
      return have.size() > i;
    }
    if (i >= have.size() || (want[i] != "*" && want[i] != have[i])) {
      return false;
    }
  }
  return want.size() == have.size();
}

std::string invalid_subject(std::string_view subject) {
  if (subject.empty()) {
    return "it is empty";
  }
  for (std::string_view token : tokens(subject)) {
    if (token.empty()) {
      return "it has an empty token (\"..\", or a leading or trailing '.')";
    }
    if (token == "*" || token == ">") {
      return "it holds a wildcard";
    }
  }
  if (std::any_of(subject.begin(), subject.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' '; })) {
    return "it holds whitespace or a control character";
  }
  return "";
}

ErrorCode classify(natsStatus status) {
  switch (status) {
    case NATS_NOT_PERMITTED:
    case NATS_PROTOCOL_ERROR:
    case NATS_INVALID_ARG:
    case NATS_ILLEGAL_STATE:
    case NATS_MAX_PAYLOAD:
      return ErrorCode::kPermanent;
    case NATS_NOT_FOUND:
      return ErrorCode::kNotFound;
    default:
      return ErrorCode::kRetryable;
  }
}

std::string describe_status(natsStatus status, std::string_view what) {
  std::string text = fmt::format("{}: {}", what, natsStatus_GetText(status));
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && last == status &&
      std::string_view(detail) != natsStatus_GetText(status)) {
    text += fmt::format(" ({})", detail);
  }
  return text;
}

std::string display_servers(const std::vector<std::string>& servers) {
  std::vector<std::string> shown;
  for (const std::string& url : servers) {
    std::string_view rest = url;
    std::string scheme;
    if (auto at = rest.find("://"); at != std::string_view::npos) {
      scheme = std::string(rest.substr(0, at + 3));
      rest = rest.substr(at + 3);
    }
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
      rest = rest.substr(at + 1);
    }
    shown.push_back(scheme + std::string(rest));
  }
  return fmt::format("{}", fmt::join(shown, ", "));
}

Result<std::unique_ptr<Connection>> Connection::open(const NatsOptions& options, Deadline deadline,
                                                     jsPubAckErrHandler on_pub_error,
                                                     void* closure) {
  std::unique_ptr<Connection> connection(new Connection(options));
  natsOptions* opts = nullptr;
  if (natsStatus s = natsOptions_Create(&opts); s != NATS_OK) {
    return make_error(ErrorCode::kRetryable, "endpoint {}: {}", options.name,
                      describe_status(s, "cnats options"));
  }
  std::vector<const char*> servers;
  for (const std::string& url : options.servers) {
    servers.push_back(url.c_str());
  }
  const auto timeout = std::max<std::int64_t>(deadline.remaining().count(), 100);
  natsStatus s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) {
    s = natsOptions_SetName(opts, "megasync");
  }
  if (s == NATS_OK && (options.user || options.password)) {
    s = natsOptions_SetUserInfo(opts, options.user.value_or("").c_str(),
                                options.password.value_or("").c_str());
  }
  if (s == NATS_OK && options.token) {
    s = natsOptions_SetToken(opts, options.token->c_str());
  }
  if (s == NATS_OK) {
    s = natsOptions_SetTimeout(opts, timeout);
  }
  if (s == NATS_OK) {
    // Reconnect for ever: a restarted server is found again, and publishes
    // and acks made meanwhile are buffered (the default 8 MB) until then.
    s = natsOptions_SetMaxReconnect(opts, -1);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectWait(opts, 500);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetNoRandomize(opts, options.servers.size() <= 1);
  }
  if (s == NATS_OK) {
    s = natsConnection_Connect(&connection->nc_, opts);
  }
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    ErrorCode code = classify(s);
    std::string hint;
    if (s == NATS_NOT_PERMITTED || s == NATS_CONNECTION_AUTH_FAILED) {
      code = ErrorCode::kPermanent;
      hint = "; check user/password or token";
    } else if (s == NATS_NO_SERVER) {
      code = ErrorCode::kRetryable;
      hint = "; is the server running and the address right?";
    }
    return make_error(
        code, "endpoint {}: {}{}", options.name,
        describe_status(s, fmt::format("cannot connect to {}", display_servers(options.servers))),
        hint);
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = std::max<std::int64_t>(timeout, 5000);
  js_options.PublishAsync.ErrHandler = on_pub_error;
  js_options.PublishAsync.ErrHandlerClosure = closure;
  if (s = natsConnection_JetStream(&connection->js_, connection->nc_, &js_options); s != NATS_OK) {
    return make_error(classify(s), "endpoint {}: {}", options.name,
                      describe_status(s, "JetStream context"));
  }
  return connection;
}

Connection::~Connection() {
  if (js_ != nullptr) {
    jsCtx_Destroy(js_);
  }
  if (nc_ != nullptr) {
    // Sends what is buffered (acks, naks) before closing.
    (void)natsConnection_FlushTimeout(nc_, 2000);
    natsConnection_Destroy(nc_);
  }
}

bool Connection::connected() const {
  return nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

Status Connection::ensure_stream(const std::string& name,
                                 const std::vector<std::string>& subjects) {
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js_, name.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return ok();
  }
  if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
    return make_error(classify(s), "endpoint {}: {}", options_.name,
                      describe_status(s, fmt::format("stream {}", name)));
  }
  if (subjects.empty()) {
    return make_error(ErrorCode::kInvalidConfig,
                      "endpoint {}: JetStream has no stream {:?}; create it, or set "
                      "create_stream: {{subjects: [...]}} on the endpoint",
                      options_.name, name);
  }
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  std::vector<const char*> subject_list;
  for (const std::string& subject : subjects) {
    subject_list.push_back(subject.c_str());
  }
  config.Subjects = subject_list.data();
  config.SubjectsLen = static_cast<int>(subject_list.size());
  config.Storage = js_FileStorage;
  s = js_AddStream(&info, js_, &config, nullptr, &jerr);
  if (s != NATS_OK) {
    return make_error(
        jerr != 0 ? ErrorCode::kInvalidConfig : classify(s), "endpoint {}: {}", options_.name,
        describe_status(s,
                        fmt::format("creating stream {} ({})", name, fmt::join(subjects, ", "))));
  }
  jsStreamInfo_Destroy(info);
  spdlog::info("endpoint {}: created JetStream stream {} for subjects {}", options_.name, name,
               fmt::join(subjects, ", "));
  return ok();
}

}  // namespace megasync::connectors::nats
