// Builds pgoutput and replication messages byte by byte for the decoder tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace megasync::connectors::postgres::testing {

// Appends big-endian integers, NUL-terminated strings and TupleData values.
class Wire {
 public:
  Wire& u8(std::uint8_t v) {
    data_.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& ch(char c) {
    data_.push_back(c);
    return *this;
  }
  Wire& i16(std::int16_t v) { return be(static_cast<std::uint16_t>(v), 2); }
  Wire& i32(std::int32_t v) { return be(static_cast<std::uint32_t>(v), 4); }
  Wire& u32(std::uint32_t v) { return be(v, 4); }
  Wire& u64(std::uint64_t v) { return be(v, 8); }
  Wire& i64(std::int64_t v) { return be(static_cast<std::uint64_t>(v), 8); }
  Wire& str(std::string_view s) {
    data_.append(s);
    data_.push_back('\0');
    return *this;
  }
  Wire& raw(std::string_view s) {
    data_.append(s);
    return *this;
  }
  // TupleData values.
  Wire& text(std::string_view s) {
    ch('t').i32(static_cast<std::int32_t>(s.size()));
    return raw(s);
  }
  Wire& null() { return ch('n'); }
  Wire& toast() { return ch('u'); }

  const std::string& data() const { return data_; }
  operator std::string() const { return data_; }  // NOLINT: convenient in tests

 private:
  Wire& be(std::uint64_t v, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
      data_.push_back(static_cast<char>((v >> shift) & 0xFF));
    }
    return *this;
  }

  std::string data_;
};

inline std::string from_hex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

}  // namespace megasync::connectors::postgres::testing
