#!/usr/bin/env python3
"""Hand payloads to a local edge-agent over its intake socket (docs/PROTOCOL.md).

Standard library only. Sends each line of standard input (or the arguments) as one payload,
pipelined, and prints one answer per payload:

    printf 'a\nb\n' | python3 producer.py --route telemetry
    python3 producer.py --route jobs --wait-confirmed '{"job": 1}'
"""
import argparse
import socket
import struct
import sys

TYPE_SEND = 0x01
TYPE_ANSWER = 0x81
FLAG_WAIT_CONFIRMED = 0x01
CODES = ["ok", "ring_full", "too_large", "unknown_route", "bad_frame", "shutting_down",
         "io_error", "not_delivered", "timeout", "internal"]
RECEIPTS = ["none", "durable", "confirmed"]


def encode_send(request_id, route, payload, headers=(), wait_confirmed=False):
    """One SEND frame: u32 frame_len | u8 type | u8 flags | u32 request_id | u16 route_len |
    u16 header_count | route | headers (u16 key_len, key, u32 value_len, value) | payload."""
    r = route.encode()
    body = struct.pack(">BBIHH", TYPE_SEND, FLAG_WAIT_CONFIRMED if wait_confirmed else 0,
                       request_id, len(r), len(headers)) + r
    for key, value in headers:
        body += struct.pack(">H", len(key)) + key + struct.pack(">I", len(value)) + value
    body += payload
    return struct.pack(">I", len(body)) + body


class AnswerReader:
    """Reads answer frames: u32 frame_len | u8 type | u8 code | u32 request_id | u8 receipt |
    u64 seq | u16 text_len | text."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the agent closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def next(self):
        (frame_len,) = struct.unpack(">I", self._exactly(4))
        frame = self._exactly(frame_len)
        kind, code, request_id, receipt, seq, text_len = struct.unpack(">BBIBQH", frame[:17])
        if kind != TYPE_ANSWER:
            raise ValueError("not an answer frame: type 0x%02x" % kind)
        return {"code": CODES[code] if code < len(CODES) else str(code),
                "request_id": request_id, "receipt": RECEIPTS[receipt], "seq": seq,
                "text": frame[17:17 + text_len].decode("utf-8", "replace")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", default="/run/edge-agent/intake.sock")
    ap.add_argument("--route", required=True)
    ap.add_argument("--header", action="append", default=[], help="KEY=VALUE")
    ap.add_argument("--wait-confirmed", action="store_true")
    ap.add_argument("payloads", nargs="*")
    args = ap.parse_args()

    headers = []
    for h in args.header:
        key, _, value = h.partition("=")
        headers.append((key.encode(), value.encode()))
    payloads = [p.encode() for p in args.payloads] or \
        [line.rstrip(b"\n") for line in sys.stdin.buffer]

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    reader = AnswerReader(sock)
    failures = 0
    # Pipelined, but never more than 100 answers behind, so the agent never has to stop
    # reading from us (it does so at max_pending_per_connection, 256 by default).
    window = 100
    sent = 0
    answered = 0
    while answered < len(payloads):
        while sent < len(payloads) and sent - answered < window:
            sock.sendall(encode_send(sent + 1, args.route, payloads[sent], headers,
                                     args.wait_confirmed))
            sent += 1
        a = reader.next()
        answered += 1
        if a["code"] == "ok":
            print("request %d: seq=%d receipt=%s" % (a["request_id"], a["seq"], a["receipt"]))
        else:
            failures += 1
            print("request %d: %s: %s" % (a["request_id"], a["code"], a["text"]),
                  file=sys.stderr)
    sock.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
