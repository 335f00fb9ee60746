// The MQTT control packets the mqtt source's own receiver (receiver.h)
// exchanges with a broker, MQTT 5.0 and 3.1.1: building CONNECT, SUBSCRIBE,
// PUBACK, PINGREQ and DISCONNECT, and reading CONNACK, SUBACK, PUBLISH and
// DISCONNECT. Pure: no I/O.
//
// Wire format (OASIS MQTT 5.0, section 2): a fixed header (packet type in the
// high nibble of the first byte, flags in the low one, then the remaining
// length as a variable byte integer of 1 to 4 bytes), the variable header and
// the payload. Integers are big-endian; strings and binary data carry a
// 2-byte length. v5 packets have a property block (its length a variable byte
// integer) after the variable header; 3.1.1 packets have none.
//
// A decoder given bytes that break the format returns kPermanent with what is
// wrong (the receiver then drops the connection as a protocol error).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace megasync::connectors::mqtt {

// Packet types (the high nibble of the first byte).
enum class PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,
};

// The largest remaining length a variable byte integer can carry.
inline constexpr std::uint32_t kMaxVarint = 268435455;

// Appends `value` (at most kMaxVarint) as a variable byte integer.
void put_varint(std::string& out, std::uint32_t value);
// Reads a variable byte integer at `pos` (advanced past it). kPermanent when
// it is longer than 4 bytes; nullopt when `data` ends before it does.
Result<std::optional<std::uint32_t>> get_varint(std::string_view data, std::size_t& pos);

// One whole packet cut from the front of a byte stream.
struct Frame {
  std::uint8_t type = 0;   // PacketType
  std::uint8_t flags = 0;  // the low nibble of the first byte
  std::string_view body;   // variable header and payload
  std::size_t size = 0;    // bytes of the whole packet in the stream
};
// The first packet of `data`; nullopt while it is not all there; kPermanent
// when its remaining length is malformed or above `max_size`.
Result<std::optional<Frame>> next_frame(std::string_view data, std::uint32_t max_size);

// The v5 properties the receiver reads (the others are checked and skipped).
struct Properties {
  std::optional<std::uint8_t> payload_format;
  std::optional<std::string> content_type;
  std::optional<std::uint16_t> topic_alias;
  std::optional<std::uint16_t> server_keep_alive;
  std::optional<std::uint16_t> receive_maximum;
  std::optional<std::uint32_t> maximum_packet_size;
  std::optional<std::uint32_t> session_expiry;
  std::optional<std::string> assigned_client_id;
  std::optional<std::string> reason_string;
  std::vector<std::pair<std::string, std::string>> user_properties;
};
// Reads a property block (its length first) at `pos`, advanced past it.
Result<Properties> get_properties(std::string_view data, std::size_t& pos);

struct ConnectParams {
  int protocol = 5;  // 5 or 4 (3.1.1)
  std::string client_id;
  bool clean_start = false;
  std::uint16_t keepalive_s = 30;
  std::optional<std::string> user;
  std::optional<std::string> password;
  // v5 only:
  std::uint32_t session_expiry_s = 0;
  std::uint16_t receive_maximum = 65535;
  std::uint32_t maximum_packet_size = 0;  // 0: not sent (no limit)
};
// A CONNECT packet; Topic Alias Maximum 0 (v5: the broker may not use topic
// aliases towards us).
std::string encode_connect(const ConnectParams& params);

struct Connack {
  bool session_present = false;
  std::uint8_t reason = 0;  // v5 reason code, or 3.1.1 return code
  Properties properties;
};
Result<Connack> decode_connack(std::string_view body, int protocol);

// A SUBSCRIBE of `filters` at `qos`; v5: retain handling 1 (retained
// messages only for a subscription that did not exist).
std::string encode_subscribe(std::uint16_t packet_id, const std::vector<std::string>& filters,
                             int qos, int protocol);
struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> codes;  // per filter: granted QoS, or >= 0x80 refused
  Properties properties;
};
Result<Suback> decode_suback(std::string_view body, int protocol);

struct Publish {
  std::string topic;            // empty when only a topic alias named it
  std::uint16_t packet_id = 0;  // QoS 1 and 2 only
  int qos = 0;
  bool dup = false;
  bool retain = false;
  std::string payload;
  Properties properties;
};
Result<Publish> decode_publish(std::uint8_t flags, std::string_view body, int protocol);

std::string encode_puback(std::uint16_t packet_id);
std::string encode_pingreq();
// v5: with `session_expiry_s`, a new session expiry (0 ends the session).
std::string encode_disconnect(int protocol, std::optional<std::uint32_t> session_expiry_s);

struct Disconnect {
  std::uint8_t reason = 0;
  Properties properties;
};
// The broker's DISCONNECT (v5; 3.1.1 brokers never send one).
Result<Disconnect> decode_disconnect(std::string_view body, int protocol);

}  // namespace megasync::connectors::mqtt
