#!/usr/bin/python3
"""Prints what arrived in a RabbitMQ queue: the consumer's end of the quick start.

Reads every message waiting in QUEUE (basic.get until empty), acknowledges it, and prints its
message_id (<agent_id>:<seq>), the agent's x-edge-* headers and the body. Uses Debian's
python3-pika; run it with /usr/bin/python3.

    print_queue.py HOST PORT USER PASSWORD_FILE QUEUE
"""
import sys

import pika


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    host, port, user, password_file, queue = sys.argv[1:]
    with open(password_file) as f:
        password = f.read().strip()
    params = pika.ConnectionParameters(
        host=host, port=int(port), credentials=pika.PlainCredentials(user, password))
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    count = 0
    while True:
        method, props, body = channel.basic_get(queue)
        if method is None:
            break
        headers = props.headers or {}
        edge = {k: v.decode() if isinstance(v, bytes) else v
                for k, v in headers.items() if k.startswith("x-edge-")}
        print(f"  {props.message_id}  {body.decode(errors='replace')}  {edge}")
        channel.basic_ack(method.delivery_tag)
        count += 1
    print(f"  ({count} message(s) in {queue})")
    connection.close()


if __name__ == "__main__":
    main()
