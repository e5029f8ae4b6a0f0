/* edge_agent_client: hand payloads to a local edge-agent over its Unix socket (C99).
 *
 * The agent keeps every accepted payload in a power-loss-safe on-disk ring and forwards it to
 * RabbitMQ. An answer with receipt EDGE_AGENT_RECEIPT_DURABLE means the payload is on stable
 * storage: a power cut after that loses nothing. Ask for EDGE_AGENT_WAIT_CONFIRMED to be
 * answered only once the broker has confirmed the message.
 *
 *   edge_agent_conn *c = NULL;
 *   int rc = edge_agent_connect("/run/edge-agent/intake.sock", 5000, &c);
 *   if (rc == EDGE_AGENT_OK) {
 *     edge_agent_result r;
 *     rc = edge_agent_send(c, "telemetry", NULL, 0, "hello", 5, 0, &r);
 *     if (rc == EDGE_AGENT_OK) printf("seq=%llu\n", (unsigned long long)r.seq);
 *     else fprintf(stderr, "%s: %s\n", edge_agent_strerror(rc), r.message);
 *     edge_agent_close(c);
 *   }
 *
 * Return values. Every function returns EDGE_AGENT_OK (0) on success; a positive value is the
 * agent's answer code (EDGE_AGENT_RING_FULL ... EDGE_AGENT_INTERNAL: the agent answered, the
 * details are in the result); a negative value is a local error (EDGE_AGENT_E_*: no answer was
 * received). edge_agent_strerror() names all of them.
 *
 * Pipelining. edge_agent_send_async() writes a request without waiting; edge_agent_read_result()
 * returns the next answer. Answers come back in request order, one per request. While a send
 * would block, the library keeps reading answers into its own buffer, so a client that sends
 * many requests before reading cannot deadlock against the agent's back-pressure.
 *
 * Wire format: docs/PROTOCOL.md (and agent/intake/protocol.h in the agent's sources).
 *
 * Thread-safety: a connection is used by one thread at a time; different connections are
 * independent. The library never raises SIGPIPE (writes use MSG_NOSIGNAL).
 */
#ifndef EDGE_AGENT_CLIENT_H
#define EDGE_AGENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_AGENT_DEFAULT_SOCKET "/run/edge-agent/intake.sock"

/* Success, and the agent's answer codes (the protocol's code byte). */
#define EDGE_AGENT_OK 0
#define EDGE_AGENT_RING_FULL 1     /* ring full under the `reject` policy: retry later */
#define EDGE_AGENT_TOO_LARGE 2     /* the payload (with route and headers) exceeds a limit */
#define EDGE_AGENT_UNKNOWN_ROUTE 3 /* the route is not in the agent's config */
#define EDGE_AGENT_BAD_FRAME 4     /* the request was malformed */
#define EDGE_AGENT_SHUTTING_DOWN 5 /* the agent is stopping */
#define EDGE_AGENT_IO_ERROR 6      /* the agent's disk write failed: NOT acknowledged (it may
                                      still be delivered; a resend may arrive twice) */
#define EDGE_AGENT_NOT_DELIVERED 7 /* broker returned/nacked it: dead-lettered (durable) */
#define EDGE_AGENT_TIMEOUT 8       /* no broker confirm in time (it is durable) */
#define EDGE_AGENT_INTERNAL 9      /* a bug in the agent */

/* Local errors: no answer was received. */
#define EDGE_AGENT_E_INVALID (-1) /* bad argument (NULL, empty route, field too long) */
#define EDGE_AGENT_E_CONNECT (-2) /* cannot connect: no agent at the path, or no permission */
#define EDGE_AGENT_E_IO (-3)      /* reading or writing the socket failed */
/* E_CLOSED: the agent closed the connection (stopping, idle, a malformed request, or
 * max_connections reached); reconnect to continue. */
#define EDGE_AGENT_E_CLOSED (-4)
#define EDGE_AGENT_E_TIMEOUT (-5)  /* no progress within the connection's timeout */
#define EDGE_AGENT_E_PROTOCOL (-6) /* the agent sent bytes that are not a valid answer */
#define EDGE_AGENT_E_NOMEM (-7)    /* out of memory */
#define EDGE_AGENT_E_NOTHING (-8)  /* edge_agent_read_result with no request outstanding */

/* Receipt levels. */
#define EDGE_AGENT_RECEIPT_NONE 0
#define EDGE_AGENT_RECEIPT_DURABLE 1   /* written and fdatasync'ed in the agent's ring */
#define EDGE_AGENT_RECEIPT_CONFIRMED 2 /* durable, and confirmed by the broker */

/* Flags for edge_agent_send / edge_agent_send_async. */
#define EDGE_AGENT_WAIT_CONFIRMED 1u

typedef struct edge_agent_conn edge_agent_conn;

/* A producer header, sent with the message as an AMQP string header. Names starting with
 * "x-edge-" are reserved for the agent. value is binary-safe: give its length. */
typedef struct edge_agent_header {
  const char* key;   /* NUL-terminated, 1..255 bytes */
  const char* value; /* value_len bytes */
  size_t value_len;
} edge_agent_header;

typedef struct edge_agent_result {
  int code;            /* EDGE_AGENT_OK or an answer code (1..9) */
  int receipt;         /* EDGE_AGENT_RECEIPT_* */
  uint64_t seq;        /* the ring sequence number when receipt >= DURABLE, else 0 */
  uint32_t request_id; /* the request this answers */
  char message[512];   /* the agent's explanation (or the local error's), NUL-terminated;
                          empty on success */
} edge_agent_result;

/* Connects to the agent's socket (path NULL: EDGE_AGENT_DEFAULT_SOCKET). timeout_ms (> 0)
 * bounds the connect and, until edge_agent_set_timeout changes it, every later blocking call. */
int edge_agent_connect(const char* path, int timeout_ms, edge_agent_conn** out);

/* Per-call time limit for later sends and reads; <= 0 waits without limit. With
 * EDGE_AGENT_WAIT_CONFIRMED make it longer than the agent's confirm_timeout_ms (30 s by
 * default), since the agent answers `timeout` itself after that. */
void edge_agent_set_timeout(edge_agent_conn* conn, int timeout_ms);

/* Sends one payload and waits for its answer (result may be NULL only if the caller does not
 * want the details). headers may be NULL when nheaders is 0; payload may be NULL when len is 0.
 * Returns EDGE_AGENT_OK, an answer code, or an EDGE_AGENT_E_* error. Not to be mixed with
 * outstanding pipelined requests (it returns EDGE_AGENT_E_INVALID if any are outstanding). */
int edge_agent_send(edge_agent_conn* conn, const char* route, const edge_agent_header* headers,
                    size_t nheaders, const void* payload, size_t len, unsigned flags,
                    edge_agent_result* result);

/* Pipelining: writes one request without waiting for its answer; *request_id (may be NULL)
 * gets the id its answer will carry. Returns EDGE_AGENT_OK or an EDGE_AGENT_E_* error. */
int edge_agent_send_async(edge_agent_conn* conn, const char* route,
                          const edge_agent_header* headers, size_t nheaders, const void* payload,
                          size_t len, unsigned flags, uint32_t* request_id);

/* Waits for the answer to the oldest outstanding request and fills *result. Returns like
 * edge_agent_send. */
int edge_agent_read_result(edge_agent_conn* conn, edge_agent_result* result);

/* Requests sent but not yet answered. */
size_t edge_agent_outstanding(const edge_agent_conn* conn);

/* Closes the socket and frees the connection (NULL is fine). */
void edge_agent_close(edge_agent_conn* conn);

/* A short text for any return value of this library ("ring_full: the agent's ring is full",
 * "E_CONNECT: cannot connect to the agent", ...). Never NULL; static storage. */
const char* edge_agent_strerror(int rc);
/* The protocol's name of an answer code ("ok", "ring_full", ...), "unknown" otherwise. */
const char* edge_agent_code_name(int code);
/* "none", "durable", "confirmed". */
const char* edge_agent_receipt_name(int receipt);

#ifdef __cplusplus
}
#endif

#endif /* EDGE_AGENT_CLIENT_H */
