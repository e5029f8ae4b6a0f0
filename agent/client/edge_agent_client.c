/* edge_agent_client: the C implementation of the intake protocol (docs/PROTOCOL.md).
 *
 * Invariants of a connection:
 * - Requests carry ids first_id, first_id+1, ...; answers arrive in that order, so the oldest
 *   outstanding id is next_id - outstanding.
 * - `in` holds bytes read from the agent and not yet returned as answers. It grows only with
 *   answers to requests this connection sent (the agent sends nothing unasked), so it is
 *   bounded by outstanding requests x the largest answer (about 1 KiB).
 * - Once a frame was written partially (timeout, error), the byte stream is unusable: `broken`
 *   holds the error every later call returns.
 */
#define _GNU_SOURCE 1

#include "agent/client/edge_agent_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TYPE_SEND 0x01u
#define TYPE_ANSWER 0x81u
#define SEND_FIXED_LEN 10u   /* frame_len of a SEND without route, headers, payload */
#define ANSWER_FIXED_LEN 17u /* frame_len of an answer without text */
#define MAX_ANSWER_FRAME (ANSWER_FIXED_LEN + 0xffffu)
#define READ_CHUNK 4096u
#define MAX_IN_BYTES (64u << 20) /* a sanity cap: far beyond any real backlog of answers */

struct edge_agent_conn {
  int fd;
  int timeout_ms; /* <= 0: no limit */
  uint32_t next_id;
  size_t outstanding;
  unsigned char* in;
  size_t in_len;
  size_t in_cap;
  int broken; /* 0, or the EDGE_AGENT_E_* every call now returns */
};

/* ---- time ---------------------------------------------------------------------------------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: no deadline. */
static int64_t deadline_after(int timeout_ms) {
  return timeout_ms > 0 ? now_ms() + timeout_ms : -1;
}

static int poll_ms_left(int64_t deadline) {
  int64_t left;
  if (deadline < 0) return -1;
  left = deadline - now_ms();
  if (left <= 0) return 0;
  return left > 1000000000 ? 1000000000 : (int)left;
}

/* ---- results ------------------------------------------------------------------------------- */

static void set_local_error(edge_agent_result* r, int rc, const char* detail) {
  if (r == NULL) return;
  r->code = rc;
  r->receipt = EDGE_AGENT_RECEIPT_NONE;
  r->seq = 0;
  r->request_id = 0;
  snprintf(r->message, sizeof(r->message), "%s", detail != NULL ? detail : edge_agent_strerror(rc));
}

static int fail(edge_agent_conn* c, int rc, int sticky, edge_agent_result* r, const char* detail) {
  if (sticky && c->broken == 0) c->broken = rc;
  set_local_error(r, rc, detail);
  return rc;
}

/* ---- bytes --------------------------------------------------------------------------------- */

static unsigned char* put_be16(unsigned char* p, uint32_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
  return p + 2;
}

static unsigned char* put_be32(unsigned char* p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
  return p + 4;
}

static uint64_t get_be(const unsigned char* p, int n) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* Reads whatever the socket has now into c->in. Returns 1 when bytes were read, 0 when none
 * are available, or an EDGE_AGENT_E_* (E_CLOSED at end of stream). */
static int read_available(edge_agent_conn* c) {
  ssize_t n;
  if (c->in_cap - c->in_len < READ_CHUNK) {
    size_t cap = c->in_cap ? c->in_cap * 2 : 2 * READ_CHUNK;
    unsigned char* grown;
    if (cap > MAX_IN_BYTES) return EDGE_AGENT_E_PROTOCOL;
    grown = (unsigned char*)realloc(c->in, cap);
    if (grown == NULL) return EDGE_AGENT_E_NOMEM;
    c->in = grown;
    c->in_cap = cap;
  }
  for (;;) {
    n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
      c->in_len += (size_t)n;
      return 1;
    }
    if (n == 0) return EDGE_AGENT_E_CLOSED;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == ECONNRESET) return EDGE_AGENT_E_CLOSED;
    return EDGE_AGENT_E_IO;
  }
}

/* Takes one answer from the front of c->in. Returns 1 (filled *r), 0 (incomplete), or
 * EDGE_AGENT_E_PROTOCOL. */
static int take_answer(edge_agent_conn* c, edge_agent_result* r) {
  uint64_t frame_len, text_len;
  const unsigned char* p;
  size_t total, copy;
  if (c->in_len < 4) return 0;
  frame_len = get_be(c->in, 4);
  if (frame_len < ANSWER_FIXED_LEN || frame_len > MAX_ANSWER_FRAME) return EDGE_AGENT_E_PROTOCOL;
  total = 4 + (size_t)frame_len;
  if (c->in_len < total) return 0;
  p = c->in + 4;
  text_len = get_be(p + 15, 2);
  if (p[0] != TYPE_ANSWER || p[1] > EDGE_AGENT_INTERNAL || p[6] > EDGE_AGENT_RECEIPT_CONFIRMED ||
      text_len != frame_len - ANSWER_FIXED_LEN) {
    return EDGE_AGENT_E_PROTOCOL;
  }
  r->code = p[1];
  r->request_id = (uint32_t)get_be(p + 2, 4);
  r->receipt = p[6];
  r->seq = get_be(p + 7, 8);
  copy = text_len < sizeof(r->message) - 1 ? (size_t)text_len : sizeof(r->message) - 1;
  memcpy(r->message, p + ANSWER_FIXED_LEN, copy);
  r->message[copy] = '\0';
  memmove(c->in, c->in + total, c->in_len - total);
  c->in_len -= total;
  return 1;
}

/* Writes all n bytes before the deadline. While the socket is full it also reads answers, so
 * that an agent blocked on writing to us (back-pressure) keeps taking our bytes. */
static int write_all(edge_agent_conn* c, const unsigned char* p, size_t n, int64_t deadline) {
  while (n > 0) {
    struct pollfd pfd;
    int ready, rc;
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return (errno == EPIPE || errno == ECONNRESET) ? EDGE_AGENT_E_CLOSED : EDGE_AGENT_E_IO;
    }
    pfd.fd = c->fd;
    pfd.events = POLLOUT | POLLIN;
    pfd.revents = 0;
    ready = poll(&pfd, 1, poll_ms_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return EDGE_AGENT_E_IO;
    if (ready == 0) return EDGE_AGENT_E_TIMEOUT;
    if (pfd.revents & POLLIN) {
      rc = read_available(c);
      /* End of stream while writing: the next send reports EPIPE; keep what was read. */
      if (rc < 0 && rc != EDGE_AGENT_E_CLOSED) return rc;
      if (rc == EDGE_AGENT_E_CLOSED && !(pfd.revents & POLLOUT)) return EDGE_AGENT_E_CLOSED;
    }
  }
  return EDGE_AGENT_OK;
}

static int check_request(const char* route, const edge_agent_header* headers, size_t nheaders,
                         const void* payload, size_t len, unsigned flags, size_t* head_len) {
  size_t i, route_len, total;
  if (route == NULL || (headers == NULL && nheaders > 0) || (payload == NULL && len > 0)) {
    return EDGE_AGENT_E_INVALID;
  }
  if ((flags & ~EDGE_AGENT_WAIT_CONFIRMED) != 0) return EDGE_AGENT_E_INVALID;
  route_len = strlen(route);
  if (route_len == 0 || route_len > 0xffff || nheaders > 0xffff) return EDGE_AGENT_E_INVALID;
  total = 4 + SEND_FIXED_LEN + route_len;
  for (i = 0; i < nheaders; i++) {
    size_t key_len;
    if (headers[i].key == NULL || (headers[i].value == NULL && headers[i].value_len > 0)) {
      return EDGE_AGENT_E_INVALID;
    }
    key_len = strlen(headers[i].key);
    if (key_len == 0 || key_len > 0xffff || headers[i].value_len > 0xffffffffu) {
      return EDGE_AGENT_E_INVALID;
    }
    total += 2 + key_len + 4 + headers[i].value_len;
    if (total < key_len || total > 0xffffffffu) return EDGE_AGENT_E_INVALID; /* overflow */
  }
  *head_len = total;
  /* frame_len counts everything after its own 4 bytes; it must fit 32 bits. */
  if (len > 0xffffffffu || total - 4 > 0xffffffffu - len) return EDGE_AGENT_E_INVALID;
  return EDGE_AGENT_OK;
}

/* ---- API ----------------------------------------------------------------------------------- */

int edge_agent_connect(const char* path, int timeout_ms, edge_agent_conn** out) {
  struct sockaddr_un addr;
  size_t path_len;
  int64_t deadline;
  edge_agent_conn* c;
  if (out == NULL || timeout_ms <= 0) return EDGE_AGENT_E_INVALID;
  *out = NULL;
  if (path == NULL) path = EDGE_AGENT_DEFAULT_SOCKET;
  path_len = strlen(path);
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path_len == 0 || path_len >= sizeof(addr.sun_path)) return EDGE_AGENT_E_INVALID;
  memcpy(addr.sun_path, path, path_len);
  c = (edge_agent_conn*)calloc(1, sizeof(*c));
  if (c == NULL) return EDGE_AGENT_E_NOMEM;
  c->timeout_ms = timeout_ms;
  c->next_id = 1;
  deadline = deadline_after(timeout_ms);
  for (;;) {
    int saved;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) break;
    if (connect(c->fd, (const struct sockaddr*)&addr, sizeof(addr)) == 0) {
      *out = c;
      return EDGE_AGENT_OK;
    }
    saved = errno;
    close(c->fd);
    errno = saved;
    if (saved == EINTR) continue;
    /* A full listen backlog gives EAGAIN on a non-blocking AF_UNIX connect: retry briefly. */
    if (saved == EAGAIN && poll_ms_left(deadline) > 0) {
      struct timespec pause = {0, 5 * 1000 * 1000};
      nanosleep(&pause, NULL);
      continue;
    }
    if (saved == EAGAIN) {
      free(c);
      errno = ETIMEDOUT;
      return EDGE_AGENT_E_TIMEOUT;
    }
    break;
  }
  {
    int saved = errno; /* callers may print strerror(errno) for the OS reason */
    free(c);
    errno = saved;
  }
  return EDGE_AGENT_E_CONNECT;
}

void edge_agent_set_timeout(edge_agent_conn* conn, int timeout_ms) {
  if (conn != NULL) conn->timeout_ms = timeout_ms;
}

size_t edge_agent_outstanding(const edge_agent_conn* conn) {
  return conn != NULL ? conn->outstanding : 0;
}

int edge_agent_send_async(edge_agent_conn* c, const char* route, const edge_agent_header* headers,
                          size_t nheaders, const void* payload, size_t len, unsigned flags,
                          uint32_t* request_id) {
  size_t head_len = 0, i;
  unsigned char *head, *p;
  int64_t deadline;
  int rc;
  uint32_t id;
  if (c == NULL) return EDGE_AGENT_E_INVALID;
  if (c->broken) return c->broken;
  rc = check_request(route, headers, nheaders, payload, len, flags, &head_len);
  if (rc != EDGE_AGENT_OK) return rc;
  head = (unsigned char*)malloc(head_len);
  if (head == NULL) return EDGE_AGENT_E_NOMEM;
  id = c->next_id;
  p = put_be32(head, (uint32_t)(head_len - 4 + len));
  *p++ = TYPE_SEND;
  *p++ = (unsigned char)flags;
  p = put_be32(p, id);
  p = put_be16(p, (uint32_t)strlen(route));
  p = put_be16(p, (uint32_t)nheaders);
  memcpy(p, route, strlen(route));
  p += strlen(route);
  for (i = 0; i < nheaders; i++) {
    size_t key_len = strlen(headers[i].key);
    p = put_be16(p, (uint32_t)key_len);
    memcpy(p, headers[i].key, key_len);
    p += key_len;
    p = put_be32(p, (uint32_t)headers[i].value_len);
    if (headers[i].value_len > 0) memcpy(p, headers[i].value, headers[i].value_len);
    p += headers[i].value_len;
  }
  deadline = deadline_after(c->timeout_ms);
  rc = write_all(c, head, head_len, deadline);
  free(head);
  if (rc == EDGE_AGENT_OK && len > 0)
    rc = write_all(c, (const unsigned char*)payload, len, deadline);
  if (rc != EDGE_AGENT_OK) {
    /* Part of a frame may be on the wire: nothing more can be sent on this connection. The
     * agent may still have answered earlier requests (or this one, e.g. too_large, before it
     * closed): those answers stay readable from the buffer. */
    if (c->broken == 0) c->broken = rc;
    return rc;
  }
  c->next_id++;
  c->outstanding++;
  if (request_id != NULL) *request_id = id;
  return EDGE_AGENT_OK;
}

int edge_agent_read_result(edge_agent_conn* c, edge_agent_result* result) {
  edge_agent_result scratch;
  edge_agent_result* r = result != NULL ? result : &scratch;
  int64_t deadline;
  if (c == NULL) return EDGE_AGENT_E_INVALID;
  deadline = deadline_after(c->timeout_ms);
  for (;;) {
    struct pollfd pfd;
    int rc, ready;
    rc = take_answer(c, r);
    if (rc == 1) {
      /* After a send that failed half-way, the agent may have answered that request too
       * (e.g. too_large before closing): it was never counted as outstanding. */
      if (c->outstanding > 0) c->outstanding--;
      return r->code;
    }
    if (rc < 0) return fail(c, rc, 1, r, "the agent sent bytes that are not a valid answer");
    if (c->outstanding == 0) {
      if (c->broken) return fail(c, c->broken, 1, r, NULL);
      return fail(c, EDGE_AGENT_E_NOTHING, 0, r, NULL);
    }
    if (c->broken == EDGE_AGENT_E_PROTOCOL || c->broken == EDGE_AGENT_E_NOMEM) {
      return fail(c, c->broken, 1, r, NULL);
    }
    rc = read_available(c);
    if (rc == 1) continue;
    if (rc == EDGE_AGENT_E_CLOSED) {
      return fail(c, rc, 1, r,
                  "the agent closed the connection (it is stopping, the connection was idle, "
                  "a request was malformed, or max_connections was reached)");
    }
    if (rc < 0) return fail(c, rc, 1, r, NULL);
    pfd.fd = c->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ready = poll(&pfd, 1, poll_ms_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail(c, EDGE_AGENT_E_IO, 1, r, NULL);
    if (ready == 0) {
      /* Not sticky: the answer may still come; the caller may read again. */
      return fail(c, EDGE_AGENT_E_TIMEOUT, 0, r, "no answer from the agent within the timeout");
    }
  }
}

int edge_agent_send(edge_agent_conn* c, const char* route, const edge_agent_header* headers,
                    size_t nheaders, const void* payload, size_t len, unsigned flags,
                    edge_agent_result* result) {
  edge_agent_result scratch;
  edge_agent_result* r = result != NULL ? result : &scratch;
  int rc;
  if (c == NULL) return EDGE_AGENT_E_INVALID;
  if (c->outstanding > 0) {
    return fail(c, EDGE_AGENT_E_INVALID, 0, r,
                "edge_agent_send with pipelined requests outstanding; read their results first");
  }
  rc = edge_agent_send_async(c, route, headers, nheaders, payload, len, flags, NULL);
  if (rc == EDGE_AGENT_E_CLOSED) {
    /* The agent may have answered (e.g. too_large for a frame over its limit) and closed
     * before taking the whole frame: collect what it sent, then report its answer. */
    while (read_available(c) == 1) {
    }
    if (take_answer(c, r) == 1) return r->code;
  }
  if (rc != EDGE_AGENT_OK) {
    set_local_error(r, rc,
                    rc == EDGE_AGENT_E_CLOSED
                        ? "the agent closed the connection while the request was sent"
                        : NULL);
    return rc;
  }
  return edge_agent_read_result(c, r);
}

void edge_agent_close(edge_agent_conn* c) {
  if (c == NULL) return;
  if (c->fd >= 0) close(c->fd);
  free(c->in);
  free(c);
}

const char* edge_agent_code_name(int code) {
  switch (code) {
    case EDGE_AGENT_OK:
      return "ok";
    case EDGE_AGENT_RING_FULL:
      return "ring_full";
    case EDGE_AGENT_TOO_LARGE:
      return "too_large";
    case EDGE_AGENT_UNKNOWN_ROUTE:
      return "unknown_route";
    case EDGE_AGENT_BAD_FRAME:
      return "bad_frame";
    case EDGE_AGENT_SHUTTING_DOWN:
      return "shutting_down";
    case EDGE_AGENT_IO_ERROR:
      return "io_error";
    case EDGE_AGENT_NOT_DELIVERED:
      return "not_delivered";
    case EDGE_AGENT_TIMEOUT:
      return "timeout";
    case EDGE_AGENT_INTERNAL:
      return "internal";
    default:
      return "unknown";
  }
}

const char* edge_agent_receipt_name(int receipt) {
  switch (receipt) {
    case EDGE_AGENT_RECEIPT_NONE:
      return "none";
    case EDGE_AGENT_RECEIPT_DURABLE:
      return "durable";
    case EDGE_AGENT_RECEIPT_CONFIRMED:
      return "confirmed";
    default:
      return "unknown";
  }
}

const char* edge_agent_strerror(int rc) {
  switch (rc) {
    case EDGE_AGENT_OK:
      return "ok";
    case EDGE_AGENT_RING_FULL:
      return "ring_full: the agent's ring is full; retry later";
    case EDGE_AGENT_TOO_LARGE:
      return "too_large: the payload with its route and headers is too large";
    case EDGE_AGENT_UNKNOWN_ROUTE:
      return "unknown_route: the route is not in the agent's config";
    case EDGE_AGENT_BAD_FRAME:
      return "bad_frame: the agent could not parse the request";
    case EDGE_AGENT_SHUTTING_DOWN:
      return "shutting_down: the agent is stopping";
    case EDGE_AGENT_IO_ERROR:
      return "io_error: the agent could not write its ring; not acknowledged";
    case EDGE_AGENT_NOT_DELIVERED:
      return "not_delivered: the broker did not take it; kept in the agent's dead-letter file";
    case EDGE_AGENT_TIMEOUT:
      return "timeout: no broker confirm in time; the payload is durable and still queued";
    case EDGE_AGENT_INTERNAL:
      return "internal: a bug in the agent";
    case EDGE_AGENT_E_INVALID:
      return "E_INVALID: invalid argument";
    case EDGE_AGENT_E_CONNECT:
      return "E_CONNECT: cannot connect to the agent's socket";
    case EDGE_AGENT_E_IO:
      return "E_IO: socket read or write failed";
    case EDGE_AGENT_E_CLOSED:
      return "E_CLOSED: the agent closed the connection";
    case EDGE_AGENT_E_TIMEOUT:
      return "E_TIMEOUT: no progress within the timeout";
    case EDGE_AGENT_E_PROTOCOL:
      return "E_PROTOCOL: invalid answer from the agent";
    case EDGE_AGENT_E_NOMEM:
      return "E_NOMEM: out of memory";
    case EDGE_AGENT_E_NOTHING:
      return "E_NOTHING: no request is outstanding";
    default:
      return "unknown error";
  }
}
