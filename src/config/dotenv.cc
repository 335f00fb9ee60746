#include "config/dotenv.h"

#include <cctype>
#include <string_view>

#include "config/loader.h"

extern char** environ;  // POSIX; declared by no standard C++ header

namespace megasync::config {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool valid_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// After a closing quote only blanks or a comment may follow.
bool only_comment_after(std::string_view rest) {
  rest = trim(rest);
  return rest.empty() || rest.front() == '#';
}

// Parses the text after '='. Returns the value, or an error message. Messages never
// quote the line: it may hold a secret.
tl::expected<std::string, std::string> parse_value(std::string_view raw) {
  std::string_view text = trim(raw);
  if (!text.empty() && text.front() == '\'') {
    const std::size_t close = text.find('\'', 1);
    if (close == std::string_view::npos) {
      return tl::unexpected<std::string>("unterminated single quote");
    }
    if (!only_comment_after(text.substr(close + 1))) {
      return tl::unexpected<std::string>("unexpected text after the closing quote");
    }
    return std::string(text.substr(1, close - 1));
  }
  if (!text.empty() && text.front() == '"') {
    std::string value;
    for (std::size_t i = 1; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        if (!only_comment_after(text.substr(i + 1))) {
          return tl::unexpected<std::string>("unexpected text after the closing quote");
        }
        return value;
      }
      if (c == '\\' && i + 1 < text.size()) {
        const char escaped = text[++i];
        switch (escaped) {
          case 'n':
            value += '\n';
            break;
          case 't':
            value += '\t';
            break;
          case 'r':
            value += '\r';
            break;
          case '"':
          case '\\':
            value += escaped;
            break;
          default:  // unknown escapes are kept as written, as most shells do
            value += '\\';
            value += escaped;
        }
        continue;
      }
      value += c;
    }
    return tl::unexpected<std::string>("unterminated double quote");
  }
  // Unquoted: a '#' preceded by a blank starts a comment.
  for (std::size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && std::isspace(static_cast<unsigned char>(raw[i - 1]))) {
      raw = raw.substr(0, i);
      break;
    }
  }
  return std::string(trim(raw));
}

}  // namespace

namespace detail {

Environment parse_dotenv_all(const std::string& text, const std::string& path,
                             std::vector<ConfigError>& errors) {
  Environment env;
  std::string_view rest(text);
  int line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    const std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    line = trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.starts_with("export") && line.size() > 6 &&
        std::isspace(static_cast<unsigned char>(line[6]))) {
      line = trim(line.substr(6));
    }
    auto fail = [&](std::string message) {
      errors.push_back(ConfigError{Location{path, line_number, 0, ""}, std::move(message)});
    };
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      fail("expected KEY=VALUE (or a '#' comment)");
      continue;
    }
    const std::string_view name = trim(line.substr(0, equals));
    if (!valid_name(name)) {
      fail("invalid variable name; use letters, digits and '_', not starting with a digit");
      continue;
    }
    auto value = parse_value(line.substr(equals + 1));
    if (!value) {
      fail(value.error() + " in the value of " + std::string(name));
      continue;
    }
    env[std::string(name)] = std::move(*value);
  }
  return env;
}

}  // namespace detail

Result<Environment> parse_dotenv(const std::string& text, const std::string& path) {
  std::vector<ConfigError> errors;
  Environment env = detail::parse_dotenv_all(text, path, errors);
  if (!errors.empty()) {
    return make_error(ErrorCode::kInvalidConfig, "{}", errors.front().format());
  }
  return env;
}

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const std::size_t equals = text.find('=');
    if (equals != std::string_view::npos) {
      env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
    }
  }
  return env;
}

}  // namespace megasync::config
