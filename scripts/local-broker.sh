#!/usr/bin/env bash
# A private RabbitMQ node for the quick start and for trying the agent by hand: TLS listener
# with a CA and server certificate made here, a user with a random password, loopback only.
# It never touches the system's default node (5672/25672) and is stopped by its process group.
#
#   scripts/local-broker.sh start DIR   starts a node in DIR (created), writes DIR/broker.env
#   scripts/local-broker.sh stop DIR    stops it (SIGTERM to its process group, then SIGKILL)
#   scripts/local-broker.sh ctl DIR ARGS...   rabbitmqctl against it
#
# DIR/broker.env holds: BROKER_NODE, BROKER_AMQP_PORT, BROKER_AMQPS_PORT, BROKER_USER,
# BROKER_PASSWORD_FILE (mode 0600), BROKER_CA_FILE.
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop|ctl DIR [ARGS]" >&2; exit 2; }

RUN_AS=()
if [ "$(id -u)" = 0 ]; then RUN_AS=(runuser -u rabbitmq --); fi

free_port() {
  # Not 25672 (the default node's distribution port) nor 35672-35682 (the CLI tools' range).
  /usr/bin/python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p != 25672 and not 35672 <= p <= 35682: print(p); break'
}

# Fills NODE_ENV with the environment every process of this node runs with.
node_env() {
  # shellcheck disable=SC1091
  . "$DIR/broker.env"
  NODE_ENV=(env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin "HOME=$DIR/home" LANG=C.UTF-8 LC_ALL=C.UTF-8
    "RABBITMQ_NODENAME=$BROKER_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    "RABBITMQ_NODE_PORT=$BROKER_AMQP_PORT" "RABBITMQ_DIST_PORT=$BROKER_DIST_PORT"
    "RABBITMQ_MNESIA_BASE=$DIR/mnesia" "RABBITMQ_LOG_BASE=$DIR/log"
    "RABBITMQ_CONFIG_FILE=$DIR/rabbitmq.conf" "RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins"
    "RABBITMQ_CONF_ENV_FILE=$DIR/rabbitmq-env.conf"
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}")
}

ctl() {
  node_env
  "${RUN_AS[@]}" "${NODE_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$BROKER_NODE" "$@"
}

case "$cmd" in
  start)
    mkdir -p "$DIR"/{certs,mnesia,log,home}
    DIR=$(cd "$DIR" && pwd)
    node="edge-local-$$-$(date +%s)@localhost"
    amqp=$(free_port); amqps=$(free_port); dist=$(free_port)
    user=edge-demo
    head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/broker.password"
    chmod 600 "$DIR/broker.password"
    password=$(cat "$DIR/broker.password")
    # Certificates: a CA of our own and a server certificate for localhost / 127.0.0.1.
    (
      cd "$DIR/certs"
      openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=edge-agent demo CA" \
        -keyout ca.key -out ca.pem 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
        -out server.csr 2>/dev/null
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile san.ext -out server.pem 2>/dev/null
    )
    cat > "$DIR/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$amqp
listeners.ssl.default = 127.0.0.1:$amqps
ssl_options.cacertfile = $DIR/certs/ca.pem
ssl_options.certfile = $DIR/certs/server.pem
ssl_options.keyfile = $DIR/certs/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
loopback_users = none
CONF
    echo "[]." > "$DIR/enabled_plugins"
    : > "$DIR/rabbitmq-env.conf"
    head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/home/.erlang.cookie"
    chmod 400 "$DIR/home/.erlang.cookie"
    cat > "$DIR/broker.env" <<ENV
BROKER_NODE=$node
BROKER_AMQP_PORT=$amqp
BROKER_AMQPS_PORT=$amqps
BROKER_DIST_PORT=$dist
BROKER_USER=$user
BROKER_PASSWORD_FILE=$DIR/broker.password
BROKER_CA_FILE=$DIR/certs/ca.pem
ENV
    if [ "$(id -u)" = 0 ]; then
      chown -R rabbitmq:rabbitmq "$DIR/mnesia" "$DIR/log" "$DIR/home" "$DIR/certs"
      chmod 755 "$DIR"
    fi
    node_env
    setsid "${RUN_AS[@]}" "${NODE_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server \
      > "$DIR/log/server.out" 2>&1 < /dev/null &
    echo $! > "$DIR/broker.pid"
    # shellcheck disable=SC1091
    . "$DIR/broker.env"
    up=0
    for _ in $(seq 1 60); do
      if ctl --timeout 5 await_startup >/dev/null 2>&1; then up=1; break; fi
      if ! kill -0 "$(cat "$DIR/broker.pid")" 2>/dev/null; then
        echo "local-broker: the node exited; see $DIR/log" >&2; tail -20 "$DIR/log/server.out" >&2; exit 1
      fi
      sleep 1
    done
    if [ "$up" != 1 ]; then
      echo "local-broker: the node did not come up; see $DIR/log" >&2; exit 1
    fi
    ctl add_user "$user" "$password" >/dev/null
    ctl set_permissions -p / "$user" '.*' '.*' '.*' >/dev/null
    echo "local-broker: node $node up: amqps://127.0.0.1:$amqps (TLS), amqp://127.0.0.1:$amqp; env in $DIR/broker.env"
    ;;
  stop)
    [ -f "$DIR/broker.pid" ] || exit 0
    pid=$(cat "$DIR/broker.pid")
    # setsid made the node its own process group leader: signal the whole group, by pid.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$DIR/broker.pid"
    echo "local-broker: stopped"
    ;;
  ctl)
    shift 2
    # shellcheck disable=SC1091
    . "$DIR/broker.env"
    ctl "$@"
    ;;
  *) echo "usage: $0 start|stop|ctl DIR [ARGS]" >&2; exit 2 ;;
esac
