/*
 * tq-kafka-mock — runs librdkafka's mock Kafka cluster (rdkafka_mock.h) as a process, so tests
 * can talk the real Kafka wire protocol over loopback TCP on machines without Kafka or Docker.
 *
 * Usage: tq-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]... [--api-version KEY:MIN:MAX]...
 *   Prints one line "bootstrap HOST:PORT[,HOST:PORT...]" on stdout, then serves until SIGTERM/SIGINT
 *   (or until its parent dies). Commands read from stdin, one per line, each answered on stdout
 *   with "ok" or "error <reason>":
 *     topic NAME PARTITIONS   create a topic unless it exists (the mock has no CreateTopics admin API)
 *     down BROKER_ID          disconnect a broker and refuse new connections (-1 = all)
 *     up BROKER_ID            accept connections again
 *     rtt BROKER_ID MS        add round-trip latency
 *
 * Build: integration/kafka-mock/build.sh (gcc ... -lrdkafka).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int create_topic(rd_kafka_mock_cluster_t *mcluster, int brokers, const char *name, int partitions) {
  if (partitions < 1) return -1;
  /* Replication factor is capped by the broker count, as on a real cluster. */
  int replication = brokers < 3 ? brokers : 3;
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, name, partitions, replication);
  /* Idempotent, like CreateTopics callers expect: an existing topic keeps its partitions. */
  return err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? 0 : -1;
}

static void reply(const char *line) {
  fputs(line, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

static void run_command(rd_kafka_mock_cluster_t *mcluster, int brokers, char *line) {
  char name[512];
  int a = 0, b = 0;
  rd_kafka_resp_err_t err;
  if (sscanf(line, "topic %511s %d", name, &a) == 2) {
    reply(create_topic(mcluster, brokers, name, a) == 0 ? "ok" : "error cannot create topic");
  } else if (sscanf(line, "down %d", &a) == 1) {
    err = rd_kafka_mock_broker_set_down(mcluster, a);
    reply(err ? "error unknown broker" : "ok");
  } else if (sscanf(line, "up %d", &a) == 1) {
    err = rd_kafka_mock_broker_set_up(mcluster, a);
    reply(err ? "error unknown broker" : "ok");
  } else if (sscanf(line, "rtt %d %d", &a, &b) == 2) {
    err = rd_kafka_mock_broker_set_rtt(mcluster, a, b);
    reply(err ? "error unknown broker" : "ok");
  } else {
    reply("error unknown command");
  }
}

int main(int argc, char **argv) {
  int brokers = 1;
  char errstr[512];

  /* Die with the parent: a test runner that crashes must not leave clusters behind. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      brokers = atoi(argv[++i]);
    } else if ((strcmp(argv[i], "--topic") == 0 || strcmp(argv[i], "--api-version") == 0) && i + 1 < argc) {
      i++; /* handled after the cluster exists */
    } else {
      fprintf(stderr, "usage: %s [--brokers N] [--topic NAME:PARTITIONS]...\n", argv[0]);
      return 2;
    }
  }
  if (brokers < 1) {
    fprintf(stderr, "--brokers must be >= 1\n");
    return 2;
  }

  /* The mock cluster needs a client handle for its bookkeeping; this producer never produces. */
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mcluster) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--api-version") != 0) continue;
    int key, min, max;
    if (sscanf(argv[++i], "%d:%d:%d", &key, &min, &max) != 3 ||
        rd_kafka_mock_set_apiversion(mcluster, (int16_t)key, (int16_t)min, (int16_t)max) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fprintf(stderr, "bad --api-version %s (want KEY:MIN:MAX)\n", argv[i]);
      return 2;
    }
  }

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--topic") != 0) continue;
    const char *spec = argv[++i];
    const char *colon = strrchr(spec, ':');
    int partitions = colon ? atoi(colon + 1) : 1;
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    char name[512];
    if (len == 0 || len >= sizeof name) {
      fprintf(stderr, "bad --topic %s\n", spec);
      return 2;
    }
    memcpy(name, spec, len);
    name[len] = '\0';
    if (create_topic(mcluster, brokers, name, partitions) != 0) {
      fprintf(stderr, "cannot create topic %s\n", spec);
      return 1;
    }
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
  fflush(stdout);

  char line[1024];
  size_t used = 0;
  int stdin_open = 1;
  while (!stop_requested) {
    if (!stdin_open) {
      pause();
      continue;
    }
    ssize_t n = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdin_open = 0; /* no controller: keep serving until a signal */
      continue;
    }
    used += (size_t)n;
    line[used] = '\0';
    char *start = line, *nl;
    while ((nl = strchr(start, '\n')) != NULL) {
      *nl = '\0';
      if (*start) run_command(mcluster, brokers, start);
      start = nl + 1;
    }
    used = strlen(start);
    memmove(line, start, used);
    if (used == sizeof line - 1) used = 0; /* an over-long line is dropped */
  }

  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
