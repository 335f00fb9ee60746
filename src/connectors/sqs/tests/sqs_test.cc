// The sqs connector's pure parts (message conversion, limits, errors), its
// request signing, and the source's requests (receives filling a batch,
// deletes in tens only on release) and the sink's batches and per-entry
// failures, against a scripted loopback server. fauxqs, the test emulator,
// does not check signatures, so a loopback server captures what libcurl sends and the reference
// signer of connectors/http/tests (checked against AWS's published examples) recomputes each
// signature from the bytes received.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <mutex>
#include <sstream>
#include <thread>

#include "connectors/http/tests/sigv4_reference.h"
#include "connectors/sqs/api.h"
#include "connectors/sqs/convert.h"
#include "connectors/sqs/sink.h"
#include "connectors/sqs/source.h"

namespace megasync::connectors::sqs {
namespace {

using http::testing::ref_sha256;
using http::testing::ref_signature;
using http::testing::SignInput;

SqsOptions test_options() {
  SqsOptions o;
  o.name = "q";
  o.endpoint = "http://127.0.0.1:1";
  o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  return o;
}

// What SQS answers to ReceiveMessage for what to_entry() sent.
nlohmann::json received_from(const nlohmann::json& entry) {
  nlohmann::json m = {{"MessageId", "5fea7756-0ea4-451a-a703-a558b933e274"},
                      {"ReceiptHandle", "rh"},
                      {"Body", entry["MessageBody"]},
                      {"Attributes", {{"SentTimestamp", "1700000000123"}}}};
  if (entry.contains("MessageAttributes")) {
    m["MessageAttributes"] = entry["MessageAttributes"];
  }
  if (entry.contains("MessageGroupId")) {
    m["Attributes"]["MessageGroupId"] = entry["MessageGroupId"];
  }
  return m;
}

TEST(SqsConvert, TextAndBase64) {
  EXPECT_TRUE(is_sqs_text("plain \t\r\n é € 😀"));
  EXPECT_FALSE(is_sqs_text(std::string("a\0b", 3)));
  EXPECT_FALSE(is_sqs_text("\x01"));
  EXPECT_FALSE(is_sqs_text("\xC3"));          // truncated
  EXPECT_FALSE(is_sqs_text("\xC0\xAF"));      // overlong
  EXPECT_FALSE(is_sqs_text("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(is_sqs_text("\xEF\xBF\xBE"));  // U+FFFE
  for (std::string bytes : {std::string(), std::string("a"), std::string("ab"), std::string("abc"),
                            std::string("\0\xff\x80\x01", 4)}) {
    std::optional<std::string> back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("a*b="));
}

TEST(SqsConvert, MessageRoundTrip) {
  const SqsOptions options = test_options();
  Message m;
  m.topic = "orders";
  m.id = "id-1";
  m.key = "customer-7";
  m.payload = "{\"total\": 12}";
  m.content_type = "application/json";
  m.headers = {{"trace", "abc"}, {"bin", std::string("\x00\x01", 2)}, {"empty", ""}};
  Result<Entry> entry = to_entry(m, "orders", options);
  ASSERT_TRUE(entry) << entry.error().message();
  const nlohmann::json& j = entry->json;
  EXPECT_EQ(j["MessageBody"], m.payload);
  EXPECT_EQ(j["MessageAttributes"]["message-id"]["StringValue"], "id-1");
  EXPECT_EQ(j["MessageAttributes"]["key"]["StringValue"], "customer-7");
  EXPECT_EQ(j["MessageAttributes"]["bin"]["DataType"], "Binary");
  EXPECT_FALSE(j["MessageAttributes"].contains("empty"));
  EXPECT_FALSE(j.contains("MessageGroupId"));

  Message back = from_sqs(received_from(j), "orders", options);
  EXPECT_EQ(back.id, "id-1");
  EXPECT_EQ(back.key, "customer-7");
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_EQ(back.content_type, "application/json");
  EXPECT_EQ(back.timestamp_ms, 1700000000123);
  ASSERT_NE(back.header("trace"), nullptr);
  EXPECT_EQ(*back.header("trace"), "abc");
  ASSERT_NE(back.header("bin"), nullptr);
  EXPECT_EQ(*back.header("bin"), std::string("\x00\x01", 2));
  EXPECT_EQ(back.headers.size(), 2u);
}

TEST(SqsConvert, BinaryPayloadGoesAsBase64) {
  const SqsOptions options = test_options();
  Message m;
  m.topic = "t";
  m.id = "i";
  m.payload = std::string("\x00\xff\xfe binary", 10);
  Result<Entry> entry = to_entry(m, "t", options);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->json["MessageBody"], base64_encode(m.payload));
  EXPECT_EQ(entry->json["MessageAttributes"]["content-transfer-encoding"]["StringValue"], "base64");
  Message back = from_sqs(received_from(entry->json), "t", options);
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_TRUE(back.headers.empty());
}

TEST(SqsConvert, WithoutAttributesTheSqsIdsAreUsed) {
  const SqsOptions options = test_options();
  nlohmann::json received = {
      {"MessageId", "m-1"},
      {"ReceiptHandle", "rh"},
      {"Body", "x"},
      {"Attributes", {{"MessageGroupId", "g"}, {"SentTimestamp", "5"}}},
      {"MessageAttributes", {{"n", {{"DataType", "Number"}, {"StringValue", "42"}}}}}};
  Message m = from_sqs(received, "q.fifo", options);
  EXPECT_EQ(m.id, "m-1");
  EXPECT_EQ(m.key, "g");
  EXPECT_EQ(m.timestamp_ms, 5);
  ASSERT_NE(m.header("n"), nullptr);
  EXPECT_EQ(*m.header("n"), "42");
}

TEST(SqsConvert, LimitsAndFifo) {
  SqsOptions options = test_options();
  Message m;
  m.topic = "t";
  m.id = "i";
  m.payload = "x";
  for (int i = 0; i < 9; ++i) {
    m.headers.emplace_back("h" + std::to_string(i), "v");
  }
  EXPECT_TRUE(to_entry(m, "t", options));  // id + 9 headers = 10
  m.headers.emplace_back("h9", "v");
  Result<Entry> too_many = to_entry(m, "t", options);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().code(), ErrorCode::kPermanent);
  EXPECT_NE(too_many.error().message().find("SQS allows 10"), std::string::npos);

  m.headers.clear();
  options.max_message_bytes = 1024;
  m.payload = std::string(1100, 'a');
  Result<Entry> too_large = to_entry(m, "t", options);
  ASSERT_FALSE(too_large);
  EXPECT_NE(too_large.error().message().find("max_message_bytes is 1024"), std::string::npos);

  m.payload = "x";
  Result<Entry> no_group = to_entry(m, "t.fifo", options);
  ASSERT_FALSE(no_group);
  EXPECT_NE(no_group.error().message().find("message_group_id"), std::string::npos);
  options.message_group_id = "all";
  Result<Entry> fifo = to_entry(m, "t.fifo", options);
  ASSERT_TRUE(fifo);
  EXPECT_EQ(fifo->json["MessageGroupId"], "all");
  EXPECT_EQ(fifo->json["MessageDeduplicationId"], "i");
  m.key = "k";
  m.id = std::string(200, 'z');
  fifo = to_entry(m, "t.fifo", options);
  ASSERT_TRUE(fifo);
  EXPECT_EQ(fifo->json["MessageGroupId"], "k");
  EXPECT_EQ(fifo->json["MessageDeduplicationId"], ref_sha256(m.id));
  EXPECT_EQ(fifo_token("a b"), ref_sha256("a b"));
}

TEST(SqsApi, ErrorsAndNames) {
  http::Response r;
  r.status = 400;
  r.body = R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"})";
  SqsError e = parse_error(r);
  EXPECT_EQ(e.code, "QueueDoesNotExist");
  EXPECT_EQ(e.message, "gone");
  r.body = "";
  r.headers["x-amzn-query-error"] = "AWS.SimpleQueueService.NonExistentQueue;Sender";
  EXPECT_EQ(parse_error(r).code, "AWS.SimpleQueueService.NonExistentQueue");
  r.body = R"({"__type":"com.amazonaws.sqs#RequestThrottled","message":"slow down"})";
  EXPECT_TRUE(sqs_retryable(r));
  EXPECT_EQ(queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo"),
            "orders.fifo");
  EXPECT_EQ(queue_name("orders"), "orders");
}

// ---- what libcurl actually sends ----

TEST(SqsSigning, RequestsAreSignedRight) {
  struct Captured {
    std::string body;
    std::multimap<std::string, std::string> headers;  // lower-case names
  };
  std::mutex mutex;
  std::vector<Captured> captured;
  httplib::Server server;
  server.Post("/", [&](const httplib::Request& req, httplib::Response& res) {
    Captured c{req.body, {}};
    for (const auto& [name, value] : req.headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      c.headers.emplace(lower, value);
    }
    {
      std::lock_guard lock(mutex);
      captured.push_back(std::move(c));
    }
    if (req.get_header_value("X-Amz-Target") == "AmazonSQS.GetQueueUrl") {
      res.status = 400;
      res.set_content(R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no"})",
                      "application/x-amz-json-1.0");
      return;
    }
    res.set_content(R"({"Successful":[{"Id":"0","MessageId":"m"}],"Failed":[]})",
                    "application/x-amz-json-1.0");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) {
    std::this_thread::yield();
  }

  SqsOptions options = test_options();
  options.endpoint = "http://127.0.0.1:" + std::to_string(port);
  options.region = "eu-west-1";
  options.credentials.session_token = "token/with+chars=";
  auto api = std::make_unique<SqsApi>(options);
  Message m;
  m.topic = "t";
  m.id = "ü id";
  m.payload = "body with \"quotes\" and ü";
  Result<Entry> entry = to_entry(m, "t", options);
  ASSERT_TRUE(entry);
  nlohmann::json e = entry->json;
  e["Id"] = "0";
  Result<nlohmann::json> sent =
      api->call("SendMessageBatch", {{"QueueUrl", "http://x/000000000000/t"}, {"Entries", {e}}});
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ((*sent)["Successful"][0]["Id"], "0");
  Result<std::string> missing = api->queue_url("nope", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kInvalidConfig);
  EXPECT_NE(missing.error().message().find("queue 'nope' does not exist"), std::string::npos);
  api.reset();  // its pooled connection closed: the server stops at once
  server.stop();
  thread.join();

  ASSERT_EQ(captured.size(), 2u);
  for (const Captured& c : captured) {
    auto header = [&](const std::string& name) {
      auto it = c.headers.find(name);
      return it == c.headers.end() ? std::string() : it->second;
    };
    EXPECT_EQ(header("content-type"), "application/x-amz-json-1.0");
    EXPECT_TRUE(header("x-amz-target").starts_with("AmazonSQS."));
    EXPECT_TRUE(nlohmann::json::parse(c.body, nullptr, false).is_object());
    const std::string auth = header("authorization");
    ASSERT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")) << auth;
    EXPECT_NE(auth.find("/eu-west-1/sqs/aws4_request"), std::string::npos);
    const auto sh = auth.find("SignedHeaders=");
    const auto sg = auth.find("Signature=");
    ASSERT_NE(sh, std::string::npos);
    ASSERT_NE(sg, std::string::npos);
    const std::string signed_list = auth.substr(sh + 14, auth.find(',', sh) - sh - 14);
    for (const char* required :
         {"host", "x-amz-date", "x-amz-target", "x-amz-security-token", "content-type"}) {
      EXPECT_NE(signed_list.find(required), std::string::npos) << required;
    }
    SignInput in;
    in.method = "POST";
    in.canonical_uri = "/";
    std::stringstream names(signed_list);
    for (std::string name; std::getline(names, name, ';');) {
      ASSERT_EQ(c.headers.count(name), 1u) << name;
      in.headers.emplace_back(name, header(name));
    }
    EXPECT_EQ(header("x-amz-content-sha256"), ref_sha256(c.body));
    in.payload_hash = ref_sha256(c.body);  // the hash of the bytes that arrived
    in.amz_date = header("x-amz-date");
    in.region = "eu-west-1";
    in.service = "sqs";
    in.secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    EXPECT_EQ(auth.substr(sg + 10), ref_signature(in)) << c.body;
  }
}

// ---- the source's requests: receives fill the batch, deletes wait for release ----

TEST(SqsSource, ReceivesFillTheBatchAndDeletesWaitForRelease) {
  std::mutex mutex;
  std::vector<nlohmann::json> receives;
  std::vector<nlohmann::json> deletes;
  int sent = 0;
  const int available = 25;
  httplib::Server server;
  server.Post("/", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string action = req.get_header_value("X-Amz-Target");
    const nlohmann::json body = nlohmann::json::parse(req.body);
    std::lock_guard lock(mutex);
    nlohmann::json answer = nlohmann::json::object();
    if (action == "AmazonSQS.GetQueueUrl") {
      answer["QueueUrl"] = "http://elsewhere/000000000000/" + body["QueueName"].get<std::string>();
    } else if (action == "AmazonSQS.ReceiveMessage") {
      receives.push_back(body);
      nlohmann::json messages = nlohmann::json::array();
      for (int n = 0; n < body["MaxNumberOfMessages"].get<int>() && sent < available; ++n) {
        messages.push_back({{"MessageId", "id-" + std::to_string(sent)},
                            {"ReceiptHandle", "rh-" + std::to_string(sent)},
                            {"Body", "b" + std::to_string(sent)}});
        ++sent;
      }
      if (!messages.empty()) {
        answer["Messages"] = messages;
      }
    } else if (action == "AmazonSQS.DeleteMessageBatch") {
      deletes.push_back(body);
      answer["Successful"] = nlohmann::json::array();
      answer["Failed"] = {{{"Id", "0"},
                           {"SenderFault", true},
                           {"Code", "ReceiptHandleIsInvalid"},
                           {"Message", "expired"}}};
    }
    res.set_content(answer.dump(), "application/x-amz-json-1.0");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) {
    std::this_thread::yield();
  }
  {
    SqsOptions options = test_options();
    options.endpoint = "http://127.0.0.1:" + std::to_string(port);
    options.queues = {"in"};
    options.visibility_timeout = std::chrono::seconds(45);
    SqsSource source(options);
    ASSERT_TRUE(source.open(std::nullopt));
    auto batch = source.next(Deadline::after(std::chrono::milliseconds(0)), 25);
    ASSERT_TRUE(batch);
    ASSERT_TRUE(batch->has_value());
    const Batch& b = **batch;
    ASSERT_EQ(b.changes.size(), 25u);
    EXPECT_EQ(b.end, b.changes.back().position);
    EXPECT_EQ(b.changes[0].collection, "in");
    {
      std::lock_guard lock(mutex);
      ASSERT_EQ(receives.size(), 3u);  // 10 + 10 + 5
      EXPECT_EQ(receives[0]["QueueUrl"], "http://elsewhere/000000000000/in");
      EXPECT_EQ(receives[0]["MaxNumberOfMessages"], 10);
      EXPECT_EQ(receives[2]["MaxNumberOfMessages"], 5);
      EXPECT_EQ(receives[0]["VisibilityTimeout"], 45);
      EXPECT_EQ(receives[0]["WaitTimeSeconds"], 0);
      EXPECT_EQ(receives[0]["MessageAttributeNames"], nlohmann::json::array({"All"}));
      EXPECT_EQ(receives[0]["MessageSystemAttributeNames"], nlohmann::json::array({"All"}));
      EXPECT_TRUE(deletes.empty());  // nothing deleted before release()
    }
    ASSERT_TRUE(source.release(b.changes[11].position));
    {
      std::lock_guard lock(mutex);
      ASSERT_EQ(deletes.size(), 2u);  // 10 + 2
      EXPECT_EQ(deletes[0]["Entries"].size(), 10u);
      EXPECT_EQ(deletes[0]["Entries"][0]["ReceiptHandle"], "rh-0");
      EXPECT_EQ(deletes[1]["Entries"].size(), 2u);
      EXPECT_EQ(deletes[1]["Entries"][1]["ReceiptHandle"], "rh-11");
    }
    // Deliveries wait for release: not caught up, an empty batch at the last one.
    auto waiting = source.next(Deadline::after(std::chrono::milliseconds(0)), 25);
    ASSERT_TRUE(waiting);
    ASSERT_TRUE(waiting->has_value());
    EXPECT_TRUE((*waiting)->changes.empty());
    EXPECT_EQ((*waiting)->end, b.end);
    ASSERT_TRUE(source.release(b.end));  // a failed delete is a warning, not an error
    {
      std::lock_guard lock(mutex);
      ASSERT_EQ(deletes.size(), 4u);  // + 10 + 3
      EXPECT_EQ(deletes[3]["Entries"].back()["ReceiptHandle"], "rh-24");
    }
    ASSERT_TRUE(source.release(b.end));  // already released: nothing more
    auto caught_up = source.next(Deadline::after(std::chrono::milliseconds(0)), 25);
    ASSERT_TRUE(caught_up);
    EXPECT_FALSE(caught_up->has_value());
    std::lock_guard lock(mutex);
    EXPECT_EQ(deletes.size(), 4u);
  }
  server.stop();
  thread.join();
}

// ---- the sink: batches of 10, per-entry failures ----

TEST(SqsSink, SenderFaultsAreRejectedOthersRetried) {
  std::mutex mutex;
  std::vector<nlohmann::json> sends;
  bool service_fault = false;
  httplib::Server server;
  server.Post("/", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string action = req.get_header_value("X-Amz-Target");
    const nlohmann::json body = nlohmann::json::parse(req.body);
    std::lock_guard lock(mutex);
    nlohmann::json answer = nlohmann::json::object();
    if (action == "AmazonSQS.GetQueueUrl") {
      answer["QueueUrl"] = "http://elsewhere/000000000000/" + body["QueueName"].get<std::string>();
    } else if (action == "AmazonSQS.SendMessageBatch") {
      sends.push_back(body);
      answer["Successful"] = nlohmann::json::array();
      answer["Failed"] = nlohmann::json::array();
      for (const nlohmann::json& e : body["Entries"]) {
        if (e["MessageBody"] == "bad") {
          answer["Failed"].push_back({{"Id", e["Id"]},
                                      {"SenderFault", !service_fault},
                                      {"Code", "InvalidParameterValue"},
                                      {"Message", "no"}});
        } else {
          answer["Successful"].push_back({{"Id", e["Id"]}, {"MessageId", "m"}});
        }
      }
    }
    res.set_content(answer.dump(), "application/x-amz-json-1.0");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) {
    std::this_thread::yield();
  }
  {
    SqsOptions options = test_options();
    options.endpoint = "http://127.0.0.1:" + std::to_string(port);
    Result<MessageTemplate> queue = MessageTemplate::parse("out-{topic}");
    ASSERT_TRUE(queue);
    SqsSink sink(options, *queue);
    ASSERT_TRUE(sink.prepare({}));
    Batch batch;
    for (int i = 0; i < 23; ++i) {
      Message m;
      m.topic = "t";
      m.id = "id-" + std::to_string(i);
      m.payload = i == 13 ? "bad" : "ok";
      batch.changes.push_back(to_change(std::move(m), session_position(1, i + 1)));
    }
    std::vector<RecordSink::Rejected> rejected;
    ASSERT_TRUE(sink.apply_or_reject(batch, rejected));
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].index, 13u);
    EXPECT_EQ(rejected[0].error.code(), ErrorCode::kPermanent);
    EXPECT_NE(rejected[0].error.message().find("InvalidParameterValue: no"), std::string::npos);
    EXPECT_NE(rejected[0].error.message().find("id-13"), std::string::npos);
    {
      std::lock_guard lock(mutex);
      ASSERT_EQ(sends.size(), 3u);  // 10 + 10 + 3
      EXPECT_EQ(sends[0]["QueueUrl"], "http://elsewhere/000000000000/out-t");
      EXPECT_EQ(sends[0]["Entries"].size(), 10u);
      EXPECT_EQ(sends[2]["Entries"].size(), 3u);
      EXPECT_EQ(sends[1]["Entries"][3]["MessageAttributes"]["message-id"]["StringValue"], "id-13");
      service_fault = true;
    }
    rejected.clear();
    Status again = sink.apply_or_reject(batch, rejected);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), ErrorCode::kRetryable);
    EXPECT_NE(again.error().message().find("on its side"), std::string::npos);
  }
  server.stop();
  thread.join();
}

}  // namespace
}  // namespace megasync::connectors::sqs
