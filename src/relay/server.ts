/**
 * The relay: forwards opaque binary frames between the connections of one room, and nothing else. It stores
 * nothing, logs no frame, and sees only room ids (derived from team keys: they say nothing) and ciphertext.
 *
 * Limits: frame size (MAX_FRAME), per-connection rate (token buckets for frames and bytes; a connection
 * over them is closed with 1008), rooms and peers per room, total connections.
 *
 * On the same port, over plain HTTP, it forwards RFC 3161 time-stamp requests to the time-stamping authorities its
 * operator allows (`tsaAllow`; timestamp-forward.ts): only a 32-byte SHA-256 imprint leaves the device. Any other
 * plain HTTP request is answered 426 (Upgrade Required), as before.
 *
 *   npm run relay          listens on 127.0.0.1:$PORT (8787 by default) and prints its ws:// URL
 *   npm run relay -- --tsa https://tsa.example/tsr     forwards time-stamp requests to that TSA (repeatable);
 *                          PL_RELAY_TSA="URL URL…" does the same (both lists are joined)
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { MAX_FRAME } from '../lib/core/sync/frame.ts';
import { createTimestampForwarder, tsaAllowList, type TimestampForwardOptions } from './timestamp-forward.ts';

export interface RelayOptions {
  port?: number;
  host?: string;
  maxFrame?: number;
  maxRooms?: number;
  maxPeersPerRoom?: number;
  maxConnections?: number;
  /** Frames per second a connection may send (sustained), and the burst above it. */
  frameRate?: number;
  frameBurst?: number;
  /** Bytes per second a connection may send (sustained), and the burst. */
  byteRate?: number;
  byteBurst?: number;
  /** Called with every frame forwarded (tests capture what the relay sees). */
  onForward?: (room: string, frame: Uint8Array) => void;
  /** The time-stamping authorities (their URLs, compared exactly) this relay forwards RFC 3161 requests to. */
  tsaAllow?: string[];
  /** The forwarder's limits and hooks (timeout, rate per address, fetch, log): timestamp-forward.ts. */
  timestamp?: Omit<TimestampForwardOptions, 'allow'>;
}

export interface Relay {
  url: string;
  /** The same port over HTTP: time-stamp requests go to `${httpUrl}/timestamp`. */
  httpUrl: string;
  port: number;
  stats(): { rooms: number; peers: number; forwarded: number; timestamps: number };
  close(): Promise<void>;
}

const ROOM_PATH = /^\/room\/([A-Za-z0-9_-]{8,64})$/;

class Bucket {
  #tokens: number;
  #last = Date.now();
  #rate: number;
  #burst: number;
  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
  }
  take(n: number): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
}

export function startRelay(o: RelayOptions = {}): Promise<Relay> {
  const maxFrame = o.maxFrame ?? MAX_FRAME;
  const maxRooms = o.maxRooms ?? 1000;
  const maxPeers = o.maxPeersPerRoom ?? 64;
  const maxConnections = o.maxConnections ?? 4000;
  const rooms = new Map<string, Set<WebSocket>>();
  let connections = 0;
  let forwarded = 0;
  const timestamps = createTimestampForwarder({ ...o.timestamp, allow: o.tsaAllow ?? [] });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    if (timestamps.handle(req, res)) return;
    // What the WebSocket server alone answered to plain HTTP.
    const body = STATUS_CODES[426]!;
    res.writeHead(426, { 'Content-Length': String(body.length), 'Content-Type': 'text/plain' });
    res.end(body);
  });
  const wss = new WebSocketServer({ server, maxPayload: maxFrame, perMessageDeflate: false });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const m = ROOM_PATH.exec(req.url ?? '');
    if (!m) return ws.close(1008, 'expected /room/<id>');
    const id = m[1];
    let room = rooms.get(id);
    if (!room && rooms.size >= maxRooms) return ws.close(1013, 'too many rooms');
    if (room && room.size >= maxPeers) return ws.close(1013, 'room full');
    if (connections >= maxConnections) return ws.close(1013, 'too many connections');
    if (!room) rooms.set(id, (room = new Set()));
    room.add(ws);
    connections++;
    const frames = new Bucket(o.frameRate ?? 500, o.frameBurst ?? 2000);
    const bytes = new Bucket(o.byteRate ?? 32 * 1024 * 1024, o.byteBurst ?? 64 * 1024 * 1024);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return ws.close(1003, 'binary frames only');
      const frame = data instanceof Buffer ? data : Buffer.concat(data as Buffer[]);
      if (!frames.take(1) || !bytes.take(frame.length)) return ws.close(1008, 'rate limit');
      o.onForward?.(id, new Uint8Array(frame.buffer, frame.byteOffset, frame.length));
      for (const peer of room!) {
        if (peer !== ws && peer.readyState === peer.OPEN) {
          peer.send(frame, { binary: true });
          forwarded++;
        }
      }
    });
    ws.on('close', () => {
      connections--;
      room!.delete(ws);
      if (room!.size === 0) rooms.delete(id);
    });
    ws.on('error', () => ws.terminate());
  });

  const host = o.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8787, host, () => {
      server.off('error', reject);
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : (o.port ?? 8787);
      const hostPart = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `ws://${hostPart}:${port}`,
        httpUrl: `http://${hostPart}:${port}`,
        port,
        stats: () => ({ rooms: rooms.size, peers: connections, forwarded, timestamps: timestamps.stats().forwarded }),
        close: () =>
          new Promise<void>((res) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => {
              server.close(() => res());
              server.closeAllConnections();
            });
          })
      });
    });
  });
}

// `npm run relay` / `node src/relay/server.ts`
if (import.meta.url === `file://${process.argv[1]}`) {
  let tsaAllow: string[];
  try {
    const { values } = parseArgs({ options: { tsa: { type: 'string', multiple: true } }, strict: true, allowPositionals: false });
    tsaAllow = tsaAllowList(process.env.PL_RELAY_TSA, values.tsa ?? []);
  } catch (e) {
    process.stderr.write(`relay: ${(e as Error).message}\nusage: npm run relay [-- --tsa <TSA URL>…]   (or PL_RELAY_TSA="<URL> <URL>…")\n`);
    process.exit(2);
  }
  const port = process.env.PORT ? Number(process.env.PORT) : 8787;
  const relay = await startRelay({ port, tsaAllow, timestamp: { log: (line) => process.stdout.write(`${line}\n`) } });
  process.stdout.write(`relay listening on ${relay.url}\n`);
  process.stdout.write(
    tsaAllow.length
      ? `time-stamp requests: ${relay.httpUrl}/timestamp forwards to ${tsaAllow.join(', ')}\n`
      : 'time-stamp requests: forwarded to no TSA (allow some with PL_RELAY_TSA or --tsa)\n'
  );
  const stop = () => void relay.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
