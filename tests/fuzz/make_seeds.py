#!/usr/bin/python3
"""Writes the checked-in seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Seeds are small, valid-ish inputs that reach each part of a target quickly; the fuzzer mutates
them. The config target also reads config/examples/ directly, so only broken variants are here.
Run from anywhere:  /usr/bin/python3 tests/fuzz/make_seeds.py   (rewrites the three directories)
Formats: the input layouts at the top of frame_parser_fuzz.cc and ring_recovery_fuzz.cc.
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write_dir(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


# --- frame_parser: [u16 chunk seed][u16 limit selector][stream] ---------------------------------

def send(route, payload=b"", headers=(), request_id=1, flags=0, type_=0x01):
    body = struct.pack(">BBIHH", type_, flags, request_id, len(route), len(headers)) + route
    for k, v in headers:
        body += struct.pack(">H", len(k)) + k + struct.pack(">I", len(v)) + v
    body += payload
    return struct.pack(">I", len(body)) + body


def answer(code, request_id, receipt, seq, text):
    body = struct.pack(">BBIBQH", 0x81, code, request_id, receipt, seq, len(text)) + text
    return struct.pack(">I", len(body)) + body


def stream(seed, limit_sel, data):
    return struct.pack(">HH", seed, limit_sel) + data


LIMIT_1MIB = 6  # index into kLimits
LIMIT_16 = 2

frame_seeds = {
    "one-request": stream(1, LIMIT_1MIB, send(b"telemetry", b"x" * 100,
                                              [(b"content-type", b"application/json"),
                                               (b"trace", b"")])),
    "pipelined": stream(2, LIMIT_1MIB, send(b"a", b"1", request_id=1) +
                        send(b"jobs", b"\x00\xff" * 40, request_id=2, flags=1) +
                        send(b"r", b"", [(b"k", b"v")], request_id=0xFFFFFFFF)),
    "empty-payload": stream(3, LIMIT_1MIB, send(b"r")),
    "partial-second-frame": stream(4, LIMIT_1MIB, send(b"r", b"abc") + send(b"route", b"p")[:9]),
    "truncated-header": stream(5, LIMIT_1MIB, struct.pack(">I", 5) + b"\x01\x00\x00\x00\x00"),
    "too-large": stream(6, LIMIT_16, send(b"route", b"payload-longer-than-16")),
    "exactly-max": stream(7, 0x8000 | 4, send(b"abcd")),  # max_frame_bytes 14 = frame_len
    "unknown-type": stream(8, LIMIT_1MIB, send(b"r", type_=0x02)),
    "unknown-flags": stream(9, LIMIT_1MIB, send(b"r", flags=0x82)),
    "empty-route": stream(10, LIMIT_1MIB, send(b"")),
    "route-beyond-frame": stream(11, LIMIT_1MIB, send(b"route")[:-2]),
    "header-key-zero": stream(12, LIMIT_1MIB, send(b"r", headers=[(b"", b"v")])),
    "header-count-without-headers": stream(13, LIMIT_1MIB,
                                           struct.pack(">IBBIHH", 11, 1, 0, 7, 1, 3) + b"r"),
    "header-value-beyond": stream(14, LIMIT_1MIB,
                                  send(b"r", headers=[(b"key", b"value")])[:-3]),
    "answer-frame": stream(15, LIMIT_1MIB, answer(0, 7, 1, 42, b"") +
                           answer(1, 8, 0, 0, b"ring is full")),
}

# --- config: JSON text ----------------------------------------------------------------------

MINIMAL = {
    "agent_id": "gw-1",
    "broker": {
        "endpoints": [{"host": "rabbit.example.com"}],
        "tls": {"ca_file": "/etc/edge-agent/ca.pem"},
        "auth": {"user": "gw-1", "password_file": "/etc/edge-agent/broker.password"},
    },
    "topology": {"exchanges": [{"name": "ev", "type": "topic"}]},
    "routes": {"events": {"exchange": "ev", "routing_key": "gw-1.events"}},
}


def cfg(change=None, text=None):
    if text is not None:
        return text.encode()
    doc = json.loads(json.dumps(MINIMAL))
    if change:
        change(doc)
    return json.dumps(doc, indent=1).encode()


def setp(path, value):
    def f(doc):
        node = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return f


config_seeds = {
    "minimal": cfg(),
    "bom-and-crlf": b"\xef\xbb\xbf" + cfg().replace(b"\n", b"\r\n"),
    "trailing-comma": cfg(text='{"agent_id": "gw-1",}'),
    "comment": cfg(text='{\n  // the gateway\n  "agent_id": "gw-1"\n}'),
    "single-quotes": cfg(text="{'agent_id': 'gw-1'}"),
    "not-an-object": cfg(text='["agent_id"]'),
    "text-after-object": cfg(text='{"agent_id": "gw-1"}}'),
    "empty": b"  \n",
    "duplicate-key": cfg(text='{"agent_id": "a", "agent_id": "b"}'),
    "typo-field": cfg(setp("broker.tls.ca_fle", "/etc/edge-agent/ca.pem")),
    "wrong-types": cfg(lambda d: d.update({"ring": {"size": "12MB", "max_batch_records": "many",
                                                     "full_policy": 3}})),
    "sizes": cfg(setp("ring", {"size": "1MiB", "segment_bytes": "512KiB",
                               "max_batch_bytes": 4096, "full_policy": "drop_oldest"})),
    "plaintext-without-allow": cfg(setp("broker.tls", {"enabled": False})),
    "plaintext-allowed": cfg(lambda d: (d["broker"].update({"allow_plaintext": True}),
                                        d["broker"]["tls"].update({"enabled": False}))),
    "password-readable-by-others": cfg(setp("broker.auth.password_file",
                                            "/etc/edge-agent/shared.password")),
    "password-empty": cfg(setp("broker.auth.password_file", "/etc/edge-agent/empty.password")),
    "password-inline": cfg(setp("broker.auth.password", "hunter2")),
    "external-auth": cfg(lambda d: d["broker"].update({
        "auth": {"mechanism": "external"},
        "tls": {"ca_file": "/etc/edge-agent/ca.pem",
                "client_cert_file": "/etc/edge-agent/client.crt",
                "client_key_file": "/etc/edge-agent/client.key"}})),
    "route-unknown-exchange": cfg(setp("routes", {"x": {"exchange": "nope", "routing_key": "k"}})),
    "endpoint-port-range": cfg(setp("broker.endpoints", [{"host": "h", "port": 70000},
                                                         {"host": "", "port": 0}])),
    "worker-not-executable": cfg(setp("worker", {"enabled": True, "queue": "q",
                                                 "handler": ["/usr/local/bin/not-executable"],
                                                 "retry_delays_ms": [1, -5]})),
    "metrics-listen": cfg(setp("metrics", {"listen": "0.0.0.0:9100", "interval_s": 0})),
    "socket-mode": cfg(setp("intake", {"socket_mode": "0999", "max_frame_bytes": "63"})),
    "deep-nesting": cfg(text="{\"agent_id\": " + "[" * 200 + "]" * 200 + "}"),
    "unicode-escapes": cfg(setp("agent_id", "gw-\u00e9\u0000x")),
}

# --- ring_recovery: [u8 base][u8 flags][edits] -------------------------------------------------

FRESH, FILLED, WRAPPED, DROPPED, TORN = range(5)
OVERWRITE, XOR, ZERO, COPY, META, HEADER, RECORD, RESIZE = range(8)
DELTA = 0x80
RECRC = 0x40
# Field indexes (ring_recovery_fuzz.cc): meta 4 = head_seq, 5 = head_offset, 6 = durable seq hint,
# 2 = epoch, 1 = generation, 10 = gap_count; header 2 = file bytes, 4 = segment bytes,
# 5 = segment count; record 1 = length, 2 = epoch, 3 = seq, 4 = batch index.


def ring(base, flags=0, *edits):
    return bytes([base, flags]) + b"".join(edits)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def meta(slot, field, delta):
    return bytes([META, slot, field | DELTA, delta & 0xFF])


ring_seeds = {
    "fresh": ring(FRESH),
    "filled": ring(FILLED),
    "wrapped": ring(WRAPPED),
    "dropped-drop-oldest": ring(DROPPED, 1),
    "torn": ring(TORN),
    "filled-flipped-payload-byte": ring(FILLED, 0, bytes([XOR]) + u16(16384 + 40) + b"\x01\x10"),
    "wrapped-zeroed-segment": ring(WRAPPED, 0, bytes([ZERO]) + u16(16384 + 4096) + u16(4096)),
    "filled-head-seq-ahead": ring(FILLED, 0, meta(0, 4, 3), meta(1, 4, 3)),
    "filled-head-offset-moved": ring(FILLED, 0, meta(0, 5, 100), meta(1, 5, 100)),
    "filled-durable-hint-ahead": ring(FILLED, 0, meta(0, 6, 20), meta(1, 6, 20)),
    "wrapped-old-epoch-meta": ring(WRAPPED, 0, meta(0, 2, -2), meta(1, 2, -2)),
    "dropped-gap-count": ring(DROPPED, 1, meta(0, 10, 5), meta(1, 10, 5)),
    "filled-record-seq-recrc": ring(FILLED, 0, bytes([RECORD, 3, 3 | DELTA | RECRC, 5])),
    "filled-record-epoch-recrc": ring(FILLED, 0, bytes([RECORD, 2, 2 | DELTA | RECRC, 7])),
    "filled-record-length-recrc": ring(FILLED, 0, bytes([RECORD, 1, 1 | DELTA | RECRC, 0x90])),
    "filled-stale-copy": ring(FILLED, 0, bytes([COPY]) + u16(16384) + u16(16384 + 3 * 4096) +
                              u16(1024)),
    "header-segment-bytes": ring(FILLED, 0, bytes([HEADER, 0, 4 | DELTA, 0x00]) +
                                 bytes([HEADER, 0]) + bytes([4]) + struct.pack("<Q", 8192) +
                                 bytes([HEADER, 0]) + bytes([5]) + struct.pack("<I", 3)),
    "header-copy-a-broken": ring(WRAPPED, 0, bytes([OVERWRITE]) + u16(3) + b"\x01\x00"),
    "truncated-file": ring(FILLED, 0, bytes([RESIZE]) + u16(30000)),
    "both-meta-broken": ring(FILLED, 0, bytes([XOR]) + u16(8192 + 30) + b"\x01\x01",
                             bytes([XOR]) + u16(12288 + 30) + b"\x01\x01"),
}

write_dir("frame_parser", frame_seeds)
write_dir("config", config_seeds)
write_dir("ring_recovery", ring_seeds)
for target in ("frame_parser", "config", "ring_recovery"):
    os.makedirs(os.path.join(HERE, "regressions", target), exist_ok=True)
