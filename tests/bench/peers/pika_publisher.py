#!/usr/bin/python3
"""pika peer for forward_bench (run with Debian's /usr/bin/python3 and python3-pika).

Two modes:
  --mode async     SelectConnection with confirm_delivery: pipelined, up to --window messages
                   published and unconfirmed at any time (each confirm frees a slot).
  --mode blocking  BlockingConnection with confirm_delivery: basic_publish waits for each
                   message's confirm, so it is NOT pipelined (one message per broker round trip,
                   one disk sync at a time); shown for reference, since it is how pika is
                   usually used.

Same message shape as edge-agent's: persistent, mandatory, content type, message_id, timestamp,
the four x-edge-* headers; default exchange, routing key = the queue.

  pika_publisher.py --mode async --port P --queue Q --size BYTES --messages N --seconds S
                    --window W
  (credentials from EDGE_BENCH_USER / EDGE_BENCH_PASSWORD; host 127.0.0.1)
Prints: RESULT messages=<confirmed> seconds=<first publish to last confirm> nacked=<n>
"""
import os
import sys
import time

import pika


def parse_args(argv):
    a = {"mode": "async", "port": 5672, "queue": "", "size": 200, "messages": 100000,
         "seconds": 10.0, "window": 512}
    for i in range(1, len(argv) - 1, 2):
        key = argv[i].lstrip("-")
        if key not in a:
            raise SystemExit("pika_publisher: unknown option " + argv[i])
        a[key] = type(a[key])(argv[i + 1])
    if not a["queue"]:
        raise SystemExit("pika_publisher: --queue is required")
    return a


def properties(n):
    return pika.BasicProperties(
        content_type="application/octet-stream",
        delivery_mode=2,
        message_id="bench:%d" % n,
        timestamp=int(time.time()),
        headers={"x-edge-agent": "bench", "x-edge-route": "bench", "x-edge-seq": str(n),
                 "x-edge-attempt": "1"})


def parameters(a):
    credentials = pika.PlainCredentials(os.environ.get("EDGE_BENCH_USER", ""),
                                        os.environ.get("EDGE_BENCH_PASSWORD", ""))
    return pika.ConnectionParameters(host="127.0.0.1", port=a["port"], virtual_host="/",
                                     credentials=credentials, heartbeat=0)


def run_blocking(a):
    conn = pika.BlockingConnection(parameters(a))
    ch = conn.channel()
    ch.confirm_delivery()
    body = b"b" * a["size"]
    start = time.monotonic()
    deadline = start + a["seconds"]
    sent = 0
    nacked = 0
    while sent < a["messages"] and time.monotonic() < deadline:
        sent += 1
        try:
            ch.basic_publish("", a["queue"], body, properties(sent), mandatory=True)
        except pika.exceptions.NackError:
            nacked += 1
    elapsed = time.monotonic() - start
    conn.close()
    return sent - nacked, elapsed, nacked


class AsyncPublisher:
    """Pipelined publisher on pika's SelectConnection; everything runs in its ioloop."""

    def __init__(self, a):
        self.a = a
        self.body = b"b" * a["size"]
        self.sent = 0
        self.settled = 0
        self.nacked = 0
        self.low = 1          # lowest delivery tag not yet settled
        self.acked = set()    # settled tags above low (acks may be single and out of order)
        self.start = None
        self.last_confirm = None
        self.error = None
        self.channel = None
        self.conn = pika.SelectConnection(parameters(a), on_open_callback=self.on_open,
                                          on_open_error_callback=self.on_open_error,
                                          on_close_callback=self.on_closed)

    def run(self):
        self.conn.ioloop.start()
        if self.error:
            raise SystemExit("pika_publisher: " + self.error)
        return self.settled - self.nacked, self.last_confirm - self.start, self.nacked

    def on_open(self, conn):
        conn.channel(on_open_callback=self.on_channel)

    def on_open_error(self, conn, err):
        self.error = "cannot connect: %s" % err
        conn.ioloop.stop()

    def on_closed(self, conn, reason):
        if self.start is None or self.settled < self.sent:
            self.error = self.error or "connection closed: %s" % reason
        conn.ioloop.stop()

    def on_channel(self, ch):
        self.channel = ch
        ch.add_on_return_callback(self.on_return)
        ch.confirm_delivery(ack_nack_callback=self.on_confirm, callback=self.on_confirm_ok)

    def on_return(self, ch, method, props, body):
        self.error = "a message was returned: is the queue declared?"
        self.conn.close()

    def on_confirm_ok(self, frame):
        self.start = time.monotonic()
        self.last_confirm = self.start
        self.deadline = self.start + self.a["seconds"]
        self.pump()

    def publishing(self):
        return self.sent < self.a["messages"] and time.monotonic() < self.deadline

    def pump(self):
        while self.sent - self.settled < self.a["window"] and self.publishing():
            self.sent += 1
            self.channel.basic_publish("", self.a["queue"], self.body, properties(self.sent),
                                       mandatory=True)
        if not self.publishing() and self.settled == self.sent:
            self.conn.close()

    def settle(self, tag, multiple):
        newly = 0
        if multiple:
            for t in range(self.low, tag + 1):
                if t not in self.acked:
                    newly += 1
                    self.acked.add(t)
        elif tag >= self.low and tag not in self.acked:
            newly = 1
            self.acked.add(tag)
        while self.low in self.acked:
            self.acked.discard(self.low)
            self.low += 1
        return newly

    def on_confirm(self, frame):
        method = frame.method
        newly = self.settle(method.delivery_tag, method.multiple)
        self.settled += newly
        if isinstance(method, pika.spec.Basic.Nack):
            self.nacked += newly
        self.last_confirm = time.monotonic()
        self.pump()


def main():
    a = parse_args(sys.argv)
    if a["mode"] == "blocking":
        confirmed, elapsed, nacked = run_blocking(a)
    elif a["mode"] == "async":
        confirmed, elapsed, nacked = AsyncPublisher(a).run()
    else:
        raise SystemExit("pika_publisher: --mode is async or blocking")
    print("RESULT messages=%d seconds=%.6f nacked=%d" % (confirmed, elapsed, nacked))


if __name__ == "__main__":
    main()
