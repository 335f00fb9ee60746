#include "connectors/mqtt/packet.h"

#include <fmt/format.h>

namespace megasync::connectors::mqtt {
namespace {

// v5 property identifiers (MQTT 5.0, 2.2.2.2).
enum Property : std::uint8_t {
  kPayloadFormat = 0x01,
  kMessageExpiry = 0x02,
  kContentType = 0x03,
  kResponseTopic = 0x08,
  kCorrelationData = 0x09,
  kSubscriptionId = 0x0B,
  kSessionExpiry = 0x11,
  kAssignedClientId = 0x12,
  kServerKeepAlive = 0x13,
  kAuthMethod = 0x15,
  kAuthData = 0x16,
  kRequestProblemInfo = 0x17,
  kWillDelay = 0x18,
  kRequestResponseInfo = 0x19,
  kResponseInfo = 0x1A,
  kServerReference = 0x1C,
  kReasonString = 0x1F,
  kReceiveMaximum = 0x21,
  kTopicAliasMaximum = 0x22,
  kTopicAlias = 0x23,
  kMaximumQos = 0x24,
  kRetainAvailable = 0x25,
  kUserProperty = 0x26,
  kMaximumPacketSize = 0x27,
  kWildcardSubAvailable = 0x28,
  kSubIdAvailable = 0x29,
  kSharedSubAvailable = 0x2A,
};

tl::unexpected<Error> malformed(std::string_view what) {
  return make_error(ErrorCode::kPermanent, "malformed MQTT packet: {}", what);
}

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

void put_u16(std::string& out, std::uint16_t v) {
  put_u8(out, static_cast<std::uint8_t>(v >> 8));
  put_u8(out, static_cast<std::uint8_t>(v & 0xFF));
}

void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v & 0xFFFF));
}

void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

// The fixed header, then `body`.
std::string packet(std::uint8_t first, const std::string& body) {
  std::string out;
  put_u8(out, first);
  put_varint(out, static_cast<std::uint32_t>(body.size()));
  out += body;
  return out;
}

// Readers: nullopt when `data` ends too early.
std::optional<std::uint8_t> get_u8(std::string_view data, std::size_t& pos) {
  if (pos + 1 > data.size()) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(data[pos++]);
}

std::optional<std::uint16_t> get_u16(std::string_view data, std::size_t& pos) {
  if (pos + 2 > data.size()) {
    return std::nullopt;
  }
  const auto v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(data[pos]) << 8) |
                                            static_cast<std::uint8_t>(data[pos + 1]));
  pos += 2;
  return v;
}

std::optional<std::uint32_t> get_u32(std::string_view data, std::size_t& pos) {
  const std::optional<std::uint16_t> high = get_u16(data, pos);
  if (!high) {
    return std::nullopt;
  }
  const std::optional<std::uint16_t> low = get_u16(data, pos);
  if (!low) {
    return std::nullopt;
  }
  return (static_cast<std::uint32_t>(*high) << 16) | *low;
}

std::optional<std::string> get_string(std::string_view data, std::size_t& pos) {
  const std::optional<std::uint16_t> size = get_u16(data, pos);
  if (!size || pos + *size > data.size()) {
    return std::nullopt;
  }
  std::string s(data.substr(pos, *size));
  pos += *size;
  return s;
}

}  // namespace

void put_varint(std::string& out, std::uint32_t value) {
  do {
    auto byte = static_cast<std::uint8_t>(value % 128);
    value /= 128;
    if (value > 0) {
      byte |= 0x80;
    }
    put_u8(out, byte);
  } while (value > 0);
}

Result<std::optional<std::uint32_t>> get_varint(std::string_view data, std::size_t& pos) {
  std::uint32_t value = 0;
  std::uint32_t multiplier = 1;
  for (std::size_t i = 0; i < 4; ++i) {
    if (pos + i >= data.size()) {
      return std::optional<std::uint32_t>();
    }
    const auto byte = static_cast<std::uint8_t>(data[pos + i]);
    value += (byte & 0x7F) * multiplier;
    if ((byte & 0x80) == 0) {
      pos += i + 1;
      return std::optional<std::uint32_t>(value);
    }
    multiplier *= 128;
  }
  return malformed("a variable byte integer longer than 4 bytes");
}

Result<std::optional<Frame>> next_frame(std::string_view data, std::uint32_t max_size) {
  if (data.empty()) {
    return std::optional<Frame>();
  }
  std::size_t pos = 1;
  Result<std::optional<std::uint32_t>> length = get_varint(data, pos);
  if (!length) {
    return fail(length.error());
  }
  if (!*length) {
    return std::optional<Frame>();
  }
  if (**length > max_size) {
    return make_error(ErrorCode::kPermanent,
                      "MQTT packet of {} bytes, above the maximum packet size {}", **length,
                      max_size);
  }
  if (data.size() - pos < **length) {
    return std::optional<Frame>();
  }
  Frame frame;
  frame.type = static_cast<std::uint8_t>(data[0]) >> 4;
  frame.flags = static_cast<std::uint8_t>(data[0]) & 0x0F;
  frame.body = data.substr(pos, **length);
  frame.size = pos + **length;
  return std::optional<Frame>(frame);
}

Result<Properties> get_properties(std::string_view data, std::size_t& pos) {
  Result<std::optional<std::uint32_t>> length = get_varint(data, pos);
  if (!length) {
    return fail(length.error());
  }
  if (!*length || pos + **length > data.size()) {
    return malformed("the property block is longer than the packet");
  }
  const std::string_view block = data.substr(pos, **length);
  pos += **length;
  Properties props;
  std::size_t at = 0;
  while (at < block.size()) {
    // Identifiers are variable byte integers; every one defined fits one byte.
    Result<std::optional<std::uint32_t>> id = get_varint(block, at);
    if (!id) {
      return fail(id.error());
    }
    if (!*id) {
      return malformed("a truncated property identifier");
    }
    bool ok = true;
    switch (**id) {
      case kPayloadFormat:
      case kRequestProblemInfo:
      case kRequestResponseInfo:
      case kMaximumQos:
      case kRetainAvailable:
      case kWildcardSubAvailable:
      case kSubIdAvailable:
      case kSharedSubAvailable: {
        const std::optional<std::uint8_t> v = get_u8(block, at);
        ok = v.has_value();
        if (ok && **id == kPayloadFormat) {
          props.payload_format = *v;
        }
        break;
      }
      case kServerKeepAlive:
      case kReceiveMaximum:
      case kTopicAliasMaximum:
      case kTopicAlias: {
        const std::optional<std::uint16_t> v = get_u16(block, at);
        ok = v.has_value();
        if (ok && **id == kServerKeepAlive) {
          props.server_keep_alive = *v;
        } else if (ok && **id == kReceiveMaximum) {
          props.receive_maximum = *v;
        } else if (ok && **id == kTopicAlias) {
          props.topic_alias = *v;
        }
        break;
      }
      case kMessageExpiry:
      case kSessionExpiry:
      case kWillDelay:
      case kMaximumPacketSize: {
        const std::optional<std::uint32_t> v = get_u32(block, at);
        ok = v.has_value();
        if (ok && **id == kSessionExpiry) {
          props.session_expiry = *v;
        } else if (ok && **id == kMaximumPacketSize) {
          props.maximum_packet_size = *v;
        }
        break;
      }
      case kContentType:
      case kResponseTopic:
      case kAssignedClientId:
      case kAuthMethod:
      case kResponseInfo:
      case kServerReference:
      case kReasonString:
      case kCorrelationData:  // binary data: the same layout
      case kAuthData: {
        std::optional<std::string> v = get_string(block, at);
        ok = v.has_value();
        if (ok && **id == kContentType) {
          props.content_type = std::move(*v);
        } else if (ok && **id == kAssignedClientId) {
          props.assigned_client_id = std::move(*v);
        } else if (ok && **id == kReasonString) {
          props.reason_string = std::move(*v);
        }
        break;
      }
      case kSubscriptionId: {
        Result<std::optional<std::uint32_t>> v = get_varint(block, at);
        if (!v) {
          return fail(v.error());
        }
        ok = v->has_value();
        break;
      }
      case kUserProperty: {
        std::optional<std::string> name = get_string(block, at);
        std::optional<std::string> value = name ? get_string(block, at) : std::nullopt;
        ok = value.has_value();
        if (ok) {
          props.user_properties.emplace_back(std::move(*name), std::move(*value));
        }
        break;
      }
      default:
        return malformed(fmt::format("unknown property 0x{:02x}", **id));
    }
    if (!ok) {
      return malformed(fmt::format("property 0x{:02x} runs past its block", **id));
    }
  }
  return props;
}

std::string encode_connect(const ConnectParams& params) {
  std::string body;
  put_string(body, "MQTT");
  put_u8(body, static_cast<std::uint8_t>(params.protocol == 5 ? 5 : 4));
  std::uint8_t flags = params.clean_start ? 0x02 : 0x00;
  if (params.user) {
    flags |= 0x80;
  }
  if (params.password) {
    flags |= 0x40;
  }
  put_u8(body, flags);
  put_u16(body, params.keepalive_s);
  if (params.protocol == 5) {
    std::string props;
    if (params.session_expiry_s != 0) {
      put_u8(props, kSessionExpiry);
      put_u32(props, params.session_expiry_s);
    }
    put_u8(props, kReceiveMaximum);
    put_u16(props, params.receive_maximum);
    if (params.maximum_packet_size != 0) {
      put_u8(props, kMaximumPacketSize);
      put_u32(props, params.maximum_packet_size);
    }
    put_u8(props, kTopicAliasMaximum);
    put_u16(props, 0);
    put_varint(body, static_cast<std::uint32_t>(props.size()));
    body += props;
  }
  put_string(body, params.client_id);
  if (params.user) {
    put_string(body, *params.user);
  }
  if (params.password) {
    put_string(body, *params.password);
  }
  return packet(static_cast<std::uint8_t>(PacketType::kConnect) << 4, body);
}

Result<Connack> decode_connack(std::string_view body, int protocol) {
  std::size_t pos = 0;
  const std::optional<std::uint8_t> flags = get_u8(body, pos);
  const std::optional<std::uint8_t> reason = get_u8(body, pos);
  if (!reason) {
    return malformed("a CONNACK shorter than 2 bytes");
  }
  if ((*flags & 0xFE) != 0) {
    return malformed("CONNACK flags other than session present");
  }
  Connack connack;
  connack.session_present = (*flags & 1) != 0;
  connack.reason = *reason;
  if (protocol == 5 && pos < body.size()) {
    Result<Properties> props = get_properties(body, pos);
    if (!props) {
      return fail(props.error());
    }
    connack.properties = std::move(*props);
  }
  return connack;
}

std::string encode_subscribe(std::uint16_t packet_id, const std::vector<std::string>& filters,
                             int qos, int protocol) {
  std::string body;
  put_u16(body, packet_id);
  if (protocol == 5) {
    put_varint(body, 0);  // no properties
  }
  for (const std::string& filter : filters) {
    put_string(body, filter);
    // v5 subscription options: QoS in bits 0-1, retain handling 1 in bits 4-5.
    put_u8(body, static_cast<std::uint8_t>(qos | (protocol == 5 ? 0x10 : 0)));
  }
  return packet(static_cast<std::uint8_t>((static_cast<int>(PacketType::kSubscribe) << 4) | 0x02),
                body);
}

Result<Suback> decode_suback(std::string_view body, int protocol) {
  std::size_t pos = 0;
  const std::optional<std::uint16_t> id = get_u16(body, pos);
  if (!id) {
    return malformed("a SUBACK without a packet identifier");
  }
  Suback suback;
  suback.packet_id = *id;
  if (protocol == 5) {
    Result<Properties> props = get_properties(body, pos);
    if (!props) {
      return fail(props.error());
    }
    suback.properties = std::move(*props);
  }
  for (; pos < body.size(); ++pos) {
    suback.codes.push_back(static_cast<std::uint8_t>(body[pos]));
  }
  return suback;
}

Result<Publish> decode_publish(std::uint8_t flags, std::string_view body, int protocol) {
  Publish publish;
  publish.dup = (flags & 0x08) != 0;
  publish.qos = (flags >> 1) & 0x03;
  publish.retain = (flags & 0x01) != 0;
  if (publish.qos == 3) {
    return malformed("a PUBLISH with QoS 3");
  }
  std::size_t pos = 0;
  std::optional<std::string> topic = get_string(body, pos);
  if (!topic) {
    return malformed("a PUBLISH whose topic runs past the packet");
  }
  publish.topic = std::move(*topic);
  if (publish.qos > 0) {
    const std::optional<std::uint16_t> id = get_u16(body, pos);
    if (!id || *id == 0) {
      return malformed("a QoS 1 or 2 PUBLISH without a packet identifier");
    }
    publish.packet_id = *id;
  }
  if (protocol == 5) {
    Result<Properties> props = get_properties(body, pos);
    if (!props) {
      return fail(props.error());
    }
    publish.properties = std::move(*props);
  }
  publish.payload.assign(body.substr(pos));
  return publish;
}

std::string encode_puback(std::uint16_t packet_id) {
  // Reason 0 (success) and no properties: v5 allows leaving both out.
  std::string body;
  put_u16(body, packet_id);
  return packet(static_cast<std::uint8_t>(PacketType::kPuback) << 4, body);
}

std::string encode_pingreq() {
  return packet(static_cast<std::uint8_t>(PacketType::kPingreq) << 4, "");
}

std::string encode_disconnect(int protocol, std::optional<std::uint32_t> session_expiry_s) {
  std::string body;
  if (protocol == 5 && session_expiry_s) {
    put_u8(body, 0);  // normal disconnection
    std::string props;
    put_u8(props, kSessionExpiry);
    put_u32(props, *session_expiry_s);
    put_varint(body, static_cast<std::uint32_t>(props.size()));
    body += props;
  }
  return packet(static_cast<std::uint8_t>(PacketType::kDisconnect) << 4, body);
}

Result<Disconnect> decode_disconnect(std::string_view body, int protocol) {
  Disconnect disconnect;
  std::size_t pos = 0;
  if (protocol != 5 || body.empty()) {
    return disconnect;
  }
  disconnect.reason = *get_u8(body, pos);
  if (pos < body.size()) {
    Result<Properties> props = get_properties(body, pos);
    if (!props) {
      return fail(props.error());
    }
    disconnect.properties = std::move(*props);
  }
  return disconnect;
}

}  // namespace megasync::connectors::mqtt
