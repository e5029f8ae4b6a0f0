// amqplib (Node.js) peer for forward_bench: a ConfirmChannel publisher, pipelined: up to
// --window messages are published and unconfirmed at any time, each new publish waits only for
// a confirm slot (and for the socket's 'drain' when amqplib's write buffer is full).
//
// Same message shape as edge-agent's: persistent, mandatory, content type, message_id,
// timestamp, the four x-edge-* headers; default exchange, routing key = the queue.
//
//   node amqplib_publisher.js --port P --queue Q --size BYTES --messages N --seconds S --window W
//   (credentials from EDGE_BENCH_USER / EDGE_BENCH_PASSWORD; host 127.0.0.1)
// Prints: RESULT messages=<confirmed> seconds=<first publish to last confirm> nacked=<n>
'use strict';

const amqp = require('amqplib');

function parseArgs(argv) {
  const a = { port: 5672, queue: '', size: 200, messages: 100000, seconds: 10, window: 512 };
  for (let i = 2; i + 1 < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in a)) throw new Error('unknown option ' + argv[i]);
    a[key] = key === 'queue' ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!a.queue) throw new Error('--queue is required');
  return a;
}

async function main() {
  const a = parseArgs(process.argv);
  const user = encodeURIComponent(process.env.EDGE_BENCH_USER || '');
  const password = encodeURIComponent(process.env.EDGE_BENCH_PASSWORD || '');
  const conn = await amqp.connect(`amqp://${user}:${password}@127.0.0.1:${a.port}/%2F`);
  const ch = await conn.createConfirmChannel();
  ch.on('return', () => {
    console.error('amqplib_publisher: a message was returned: is the queue declared?');
    process.exit(1);
  });

  const body = Buffer.alloc(a.size, 'b');
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(a.seconds * 1e9));
  let lastConfirm = start;
  let sent = 0;
  let settled = 0;
  let nacked = 0;
  let waitingForDrain = false;

  await new Promise((resolve) => {
    const publishing = () => sent < a.messages && process.hrtime.bigint() < deadline;
    const pump = () => {
      while (!waitingForDrain && sent - settled < a.window && publishing()) {
        const n = ++sent;
        const ok = ch.publish('', a.queue, body, {
          persistent: true,
          mandatory: true,
          contentType: 'application/octet-stream',
          messageId: 'bench:' + n,
          timestamp: Math.floor(Date.now() / 1000),
          headers: {
            'x-edge-agent': 'bench',
            'x-edge-route': 'bench',
            'x-edge-seq': String(n),
            'x-edge-attempt': '1',
          },
        }, (err) => {
          settled++;
          if (err) nacked++;
          lastConfirm = process.hrtime.bigint();
          if (!publishing() && settled === sent) {
            resolve();
          } else {
            pump();
          }
        });
        if (!ok) {
          waitingForDrain = true;
          ch.once('drain', () => {
            waitingForDrain = false;
            pump();
          });
        }
      }
      if (!publishing() && settled === sent) resolve();
    };
    pump();
  });

  const seconds = Number(lastConfirm - start) / 1e9;
  console.log(`RESULT messages=${settled - nacked} seconds=${seconds.toFixed(6)} nacked=${nacked}`);
  await ch.close();
  await conn.close();
}

main().catch((err) => {
  console.error('amqplib_publisher: ' + (err && err.message ? err.message : err));
  process.exit(1);
});
