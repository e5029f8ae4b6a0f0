/* A producer in C: sends each line of standard input as one payload, pipelined, and prints
 * one answer per line. Build against the agent's client library:
 *
 *   cc -std=c99 -I/usr/include/edge-agent producer.c -ledge_agent_client -o producer
 *   printf 'a\nb\n' | ./producer telemetry
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_agent_client.h"

/* Reads the answer to the oldest outstanding request: 0 stored, 1 refused by the agent,
 * -1 no answer (connection lost or timed out: give up on this connection). */
static int report(edge_agent_conn* c) {
  edge_agent_result r;
  int rc = edge_agent_read_result(c, &r);
  if (rc == EDGE_AGENT_OK) {
    printf("request %u: seq=%llu receipt=%s\n", (unsigned)r.request_id, (unsigned long long)r.seq,
           edge_agent_receipt_name(r.receipt));
    return 0;
  }
  fprintf(stderr, "request %u: %s (%s)\n", (unsigned)r.request_id, edge_agent_strerror(rc),
          r.message);
  return rc > 0 ? 1 : -1;
}

int main(int argc, char** argv) {
  const char* route = argc > 1 ? argv[1] : "telemetry";
  const char* path = argc > 2 ? argv[2] : EDGE_AGENT_DEFAULT_SOCKET;
  edge_agent_header headers[1] = {{"producer", "example", 7}};
  edge_agent_conn* c = NULL;
  char* line = NULL;
  size_t cap = 0;
  ssize_t n;
  int failures = 0;
  int rc = edge_agent_connect(path, 5000, &c);
  if (rc != EDGE_AGENT_OK) {
    perror(path);
    fprintf(stderr, "%s\n", edge_agent_strerror(rc));
    return 3;
  }
  while ((n = getline(&line, &cap, stdin)) > 0) {
    if (line[n - 1] == '\n') n--;
    rc = edge_agent_send_async(c, route, headers, 1, line, (size_t)n, 0, NULL);
    if (rc != EDGE_AGENT_OK) {
      fprintf(stderr, "send: %s\n", edge_agent_strerror(rc));
      break;
    }
    /* Keep at most 100 answers outstanding (the agent pauses reading at 256). */
    if (edge_agent_outstanding(c) >= 100) {
      rc = report(c);
      if (rc < 0) break;
      failures += rc;
    }
  }
  while (rc >= 0 && edge_agent_outstanding(c) > 0) {
    rc = report(c);
    if (rc > 0) failures += rc;
  }
  if (rc < 0) failures++;
  free(line);
  edge_agent_close(c);
  return failures ? 1 : 0;
}
