/* nats-tool: the NATS client of the end-to-end tests (Debian has no NATS
 * client for Python). One JetStream connection, one command:
 *
 *   nats-tool URL add-stream NAME SUBJECT...   create a stream (file storage;
 *                                              an existing one is left alone)
 *   nats-tool URL delete-stream NAME           delete it (missing: fine)
 *   nats-tool URL publish                      publish the lines of stdin, each
 *       SUBJECT<TAB>ID<TAB>HEX_PAYLOAD[<TAB>NAME=HEX_VALUE]...
 *     through JetStream, waiting for each PubAck (ID empty: no Nats-Msg-Id);
 *     prints "ok ID" per acked message (flushed), "err ID TEXT" per refusal
 *   nats-tool URL dump STREAM                  print the stream's messages:
 *       SEQ<TAB>SUBJECT<TAB>HEX_PAYLOAD[<TAB>NAME=HEX_VALUE]...
 *
 * Exit status 0 on success, 1 on a failure (printed to stderr). */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char* what, natsStatus s) {
  fprintf(stderr, "nats-tool: %s: %s\n", what, natsStatus_GetText(s));
  nats_PrintLastErrorStack(stderr);
  return 1;
}

static void print_hex(const char* data, int len) {
  for (int i = 0; i < len; i++)
    printf("%02x", (unsigned char)data[i]);
}

static int unhex(const char* hex, size_t len, char* out) {
  for (size_t i = 0; i + 1 < len; i += 2) {
    unsigned int byte = 0;
    if (sscanf(hex + i, "%2x", &byte) != 1)
      return -1;
    out[i / 2] = (char)byte;
  }
  return (int)(len / 2);
}

static void print_headers(natsMsg* msg) {
  const char** keys = NULL;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK)
    return;
  for (int i = 0; i < count; i++) {
    const char** values = NULL;
    int n = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &n) != NATS_OK)
      continue;
    for (int j = 0; j < n; j++) {
      printf("\t%s=", keys[i]);
      print_hex(values[j], (int)strlen(values[j]));
    }
    free((void*)values);
  }
  free((void*)keys);
}

static int add_stream(jsCtx* js, int argc, char** argv) {
  jsStreamConfig cfg;
  jsStreamInfo* si = NULL;
  jsErrCode jerr = 0;
  jsStreamConfig_Init(&cfg);
  cfg.Name = argv[0];
  cfg.Subjects = (const char**)(argv + 1);
  cfg.SubjectsLen = argc - 1;
  cfg.Storage = js_FileStorage;
  natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
  if (s != NATS_OK && jerr != JSStreamNameExistErr)
    return die("add stream", s);
  jsStreamInfo_Destroy(si);
  return 0;
}

static int delete_stream(jsCtx* js, const char* name) {
  jsErrCode jerr = 0;
  natsStatus s = js_DeleteStream(js, name, NULL, &jerr);
  if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
    return die("delete stream", s);
  return 0;
}

static int publish(jsCtx* js) {
  char* line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    if (line[len - 1] == '\n')
      line[--len] = '\0';
    char* fields[64];
    int n = 0;
    for (char* p = line; n < 64;) {
      fields[n++] = p;
      char* tab = strchr(p, '\t');
      if (tab == NULL)
        break;
      *tab = '\0';
      p = tab + 1;
    }
    if (n < 3) {
      fprintf(stderr, "nats-tool: bad line (SUBJECT TAB ID TAB HEX...)\n");
      return 1;
    }
    size_t hex_len = strlen(fields[2]);
    char* payload = malloc(hex_len / 2 + 1);
    int payload_len = unhex(fields[2], hex_len, payload);
    natsMsg* msg = NULL;
    natsStatus s = natsMsg_Create(&msg, fields[0], NULL, payload, payload_len);
    free(payload);
    if (s == NATS_OK && fields[1][0] != '\0')
      s = natsMsgHeader_Set(msg, "Nats-Msg-Id", fields[1]);
    for (int i = 3; s == NATS_OK && i < n; i++) {
      char* eq = strchr(fields[i], '=');
      if (eq == NULL)
        continue;
      *eq = '\0';
      size_t vlen = strlen(eq + 1);
      char* value = calloc(vlen / 2 + 1, 1);
      unhex(eq + 1, vlen, value);
      s = natsMsgHeader_Add(msg, fields[i], value);
      free(value);
    }
    if (s != NATS_OK)
      return die("build message", s);
    jsPubAck* ack = NULL;
    jsErrCode jerr = 0;
    s = js_PublishMsg(&ack, js, msg, NULL, &jerr);
    natsMsg_Destroy(msg);
    if (s == NATS_OK) {
      printf("ok %s\n", fields[1]);
    } else {
      printf("err %s %s\n", fields[1], natsStatus_GetText(s));
    }
    fflush(stdout);
    jsPubAck_Destroy(ack);
  }
  free(line);
  return 0;
}

static int dump(jsCtx* js, const char* stream) {
  jsStreamInfo* si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
  if (s != NATS_OK)
    return die("stream info", s);
  uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  for (uint64_t seq = first; seq != 0 && seq <= last; seq++) {
    natsMsg* msg = NULL;
    s = js_GetMsg(&msg, js, stream, seq, NULL, &jerr);
    if (s == NATS_NOT_FOUND)
      continue;
    if (s != NATS_OK)
      return die("get message", s);
    printf("%llu\t%s\t", (unsigned long long)seq, natsMsg_GetSubject(msg));
    print_hex(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    print_headers(msg);
    printf("\n");
    natsMsg_Destroy(msg);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nats-tool URL add-stream|delete-stream|publish|dump ...\n");
    return 2;
  }
  natsConnection* nc = NULL;
  jsCtx* js = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, argv[1]);
  if (s != NATS_OK)
    return die("connect", s);
  if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK)
    return die("JetStream", s);
  const char* cmd = argv[2];
  int rc = 2;
  if (strcmp(cmd, "add-stream") == 0 && argc >= 5) {
    rc = add_stream(js, argc - 3, argv + 3);
  } else if (strcmp(cmd, "delete-stream") == 0 && argc == 4) {
    rc = delete_stream(js, argv[3]);
  } else if (strcmp(cmd, "publish") == 0 && argc == 3) {
    rc = publish(js);
  } else if (strcmp(cmd, "dump") == 0 && argc == 4) {
    rc = dump(js, argv[3]);
  } else {
    fprintf(stderr, "nats-tool: bad command or arguments\n");
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  nats_Close();
  return rc;
}
