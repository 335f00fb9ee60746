// kafka-tool: the Kafka client of the end-to-end tests (librdkafka's C API),
// and its mock cluster: Debian ships no Kafka broker.
//
//   kafka-tool mock [BROKERS]
//       Starts a librdkafka mock cluster, prints its bootstrap servers on one
//       line of stdout and runs until stdin closes or SIGTERM/SIGINT.
//   kafka-tool produce BOOTSTRAP TOPIC
//       Reads lines "key<TAB>id<TAB>hexpayload[<TAB>name=value]..." from stdin
//       (an empty key: no key; an empty id: no "message-id" header), produces
//       them and waits for every delivery report; exits 1 when one failed.
//   kafka-tool consume BOOTSTRAP TOPIC COUNT TIMEOUT_MS
//       Reads the topic from the beginning (no group) until COUNT messages or
//       TIMEOUT_MS without one; prints "partition<TAB>offset<TAB>key<TAB>
//       hexpayload[<TAB>name=hexvalue]..." per message.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;
static int delivery_failures = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void die(const char* what, const char* why) {
  fprintf(stderr, "kafka-tool: %s: %s\n", what, why);
  exit(2);
}

static void set(rd_kafka_conf_t* conf, const char* name, const char* value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    die(name, err);
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Decodes `hex` in place; returns the length, or -1 when it is not hex.
static long unhex(char* hex) {
  size_t n = strlen(hex);
  if (n % 2 != 0)
    return -1;
  for (size_t i = 0; i < n / 2; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    hex[i] = (char)(hi * 16 + lo);
  }
  return (long)(n / 2);
}

static void print_hex(const void* data, size_t len) {
  const unsigned char* p = data;
  for (size_t i = 0; i < len; ++i)
    printf("%02x", p[i]);
}

static int run_mock(int brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "log_level", "3");  // not "no bootstrap.servers": this client only hosts the mock
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == NULL)
    die("create the mock's client", err);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == NULL)
    die("mock cluster", "could not be created");
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  fflush(stdout);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  while (!stop_requested) {
    struct pollfd fd = {.fd = 0, .events = POLLIN};
    int n = poll(&fd, 1, 200);
    if (n > 0) {
      char buf[256];
      if (read(0, buf, sizeof buf) <= 0)
        break;  // stdin closed
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}

static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk;
  (void)opaque;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, "kafka-tool: delivery failed: %s\n", rd_kafka_err2str(m->err));
    ++delivery_failures;
  }
}

static int run_produce(const char* bootstrap, const char* topic) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "enable.idempotence", "true");
  set(conf, "linger.ms", "5");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == NULL)
    die("producer", err);
  char* line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n')
      line[--len] = '\0';
    if (len == 0)
      continue;
    char* fields[64];
    int n = 0;
    char* save = NULL;
    // strsep keeps empty fields (an empty key or id).
    char* rest = line;
    char* f;
    (void)save;
    while (n < 64 && (f = strsep(&rest, "\t")) != NULL)
      fields[n++] = f;
    if (n < 3)
      die("input line", "wants key<TAB>id<TAB>hexpayload");
    long payload_len = unhex(fields[2]);
    if (payload_len < 0)
      die("payload", "not hex");
    rd_kafka_headers_t* headers = rd_kafka_headers_new(8);
    if (fields[1][0] != '\0')
      rd_kafka_header_add(headers, "message-id", -1, fields[1], -1);
    for (int i = 3; i < n; ++i) {
      char* eq = strchr(fields[i], '=');
      if (eq == NULL)
        die("header", "wants name=value");
      *eq = '\0';
      rd_kafka_header_add(headers, fields[i], -1, eq + 1, -1);
    }
    size_t key_len = strlen(fields[0]);
    for (;;) {
      rd_kafka_resp_err_t e =
          rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(key_len > 0 ? fields[0] : NULL, key_len),
                            RD_KAFKA_V_VALUE(fields[2], (size_t)payload_len),
                            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 100);
        continue;
      }
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("produce", rd_kafka_err2str(e));
      break;  // the headers belong to the message now
    }
    rd_kafka_poll(rk, 0);
  }
  free(line);
  rd_kafka_resp_err_t e = rd_kafka_flush(rk, 60000);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    die("flush", rd_kafka_err2str(e));
  rd_kafka_destroy(rk);
  return delivery_failures == 0 ? 0 : 1;
}

static int run_consume(const char* bootstrap, const char* topic, long count, int timeout_ms) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", bootstrap);
  set(conf, "group.id", "kafka-tool");  // required by the consumer; no offsets committed
  set(conf, "enable.auto.commit", "false");
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == NULL)
    die("consumer", err);
  // Assign every partition from the beginning (no group rebalance to wait for).
  const struct rd_kafka_metadata* md = NULL;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic, NULL);
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_UNKNOWN;
  for (int attempt = 0; attempt < 50; ++attempt) {
    e = rd_kafka_metadata(rk, 0, t, &md, 5000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0)
      break;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);
    md = NULL;
    usleep(100000);
  }
  if (md == NULL)
    die("metadata", "topic not found");
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
  for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  e = rd_kafka_assign(rk, parts);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    die("assign", rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_destroy(parts);
  long seen = 0;
  while (seen < count) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, timeout_ms);
    if (m == NULL)
      break;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        fprintf(stderr, "kafka-tool: %s\n", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    printf("%d\t%lld\t%.*s\t", m->partition, (long long)m->offset, (int)m->key_len,
           m->key != NULL ? (const char*)m->key : "");
    print_hex(m->payload, m->len);
    rd_kafka_headers_t* headers = NULL;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == 0; ++i) {
        printf("\t%s=", name);
        print_hex(value, size);
      }
    }
    printf("\n");
    ++seen;
    rd_kafka_message_destroy(m);
  }
  fflush(stdout);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "mock") == 0) {
    return run_mock(argc >= 3 ? atoi(argv[2]) : 1);
  }
  if (argc == 4 && strcmp(argv[1], "produce") == 0) {
    return run_produce(argv[2], argv[3]);
  }
  if (argc == 6 && strcmp(argv[1], "consume") == 0) {
    return run_consume(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
  }
  fprintf(stderr,
          "usage: kafka-tool mock [BROKERS] | produce BOOTSTRAP TOPIC | consume BOOTSTRAP TOPIC "
          "COUNT TIMEOUT_MS\n");
  return 2;
}
