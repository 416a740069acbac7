/**
 * The relay: forwards opaque binary frames between the connections of one room, and nothing else. It stores
 * nothing, logs no frame, and sees only room ids (derived from team keys) and ciphertext.
 *
 * Admission (ledger-schema/README.md section 19): each connection must sign a fresh challenge with the room key
 * (core/sync/room.ts) before it may send, hear or count against a room. Limits on frames, rates, queued bytes,
 * rooms and connections (per address too) close offenders with 1008 or 1013 (the table is in the spec).
 *
 * On the same port, plain HTTP forwards RFC 3161 time-stamp requests to the TSAs its operator allows
 * (`tsaAllow`; timestamp-forward.ts); any other plain HTTP request gets 426.
 *
 *   npm run relay [-- --tsa URL]   listens on 127.0.0.1:$PORT (8787 by default); PL_RELAY_TSA="URL URL…" adds TSAs
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { MAX_FRAME } from '../lib/core/sync/frame.ts';
import { randomBytes } from '../lib/core/sync/crypto.ts';
import { admission, CHALLENGE_LEN, checkAdmission } from '../lib/core/sync/room.ts';
import { fromBase64url } from '../lib/core/bytes.ts';
import { createTimestampForwarder, tsaAllowList, type TimestampForwardOptions } from './timestamp-forward.ts';

export interface RelayOptions {
  port?: number;
  host?: string;
  maxFrame?: number;
  maxRooms?: number;
  maxPeersPerRoom?: number;
  /** Connections in all, admitted or awaiting admission (the latter are closed first when it is reached). */
  maxConnections?: number;
  /** Frames per second a connection may send (sustained), and the burst above it. */
  frameRate?: number;
  frameBurst?: number;
  /** Bytes per second a connection may send (sustained), and the burst. */
  byteRate?: number;
  byteBurst?: number;
  /** Bytes waiting to be read by one connection (the relay's queue and its socket's) before it is closed (16 MiB). */
  maxBuffered?: number;
  /** Bytes waiting to be read by all connections; over it, the connection a frame is queued for is closed (512 MiB). */
  maxBufferedTotal?: number;
  /** How long a connection has to prove its room key (10 s). */
  admissionTimeoutMs?: number;
  /** Per address (IPv4, or IPv6 /64): connections awaiting admission (64), connections in all (256), rooms (64). */
  maxPendingPerAddress?: number;
  maxConnectionsPerAddress?: number;
  maxRoomsPerAddress?: number;
  /** Connection attempts per address per second (sustained, 60), and the burst (240). */
  attemptRate?: number;
  attemptBurst?: number;
  /** A connection the relay closed is dropped if it has not ended after this long (10 s). */
  closeGraceMs?: number;
  /** Called with every frame forwarded (tests capture what the relay sees). */
  onForward?: (room: string, frame: Uint8Array) => void;
  /** One line for each admitted connection the relay closes (too slow, over its rate): the reason, no address or room. */
  log?: (line: string) => void;
  /** The time-stamping authorities (their URLs, compared exactly) this relay forwards RFC 3161 requests to. */
  tsaAllow?: string[];
  /** The forwarder's limits and hooks (timeout, rate per address, fetch, log): timestamp-forward.ts. */
  timestamp?: Omit<TimestampForwardOptions, 'allow'>;
}

export interface RelayStats {
  rooms: number;
  /** Admitted connections. */
  peers: number;
  /** Connections awaiting admission. */
  pending: number;
  forwarded: number;
  timestamps: number;
  /** Bytes waiting to be read, in all. */
  buffered: number;
  /** Connections refused before admission (a proof refused, a limit reached), and admitted ones closed for being too slow. */
  refused: number;
  slow: number;
}

export interface Relay {
  url: string;
  /** The same port over HTTP: time-stamp requests go to `${httpUrl}/timestamp`. */
  httpUrl: string;
  port: number;
  stats(): RelayStats;
  close(): Promise<void>;
}

const ROOM_PATH = /^\/room\/([A-Za-z0-9_-]{43})$/;
const MiB = 1024 * 1024;
/** Below this many bytes in its socket, a frame goes to the connection at once; above, it waits in the relay's queue. */
const LOW_WATER = MiB;

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
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
  full(): boolean {
    this.#refill();
    return this.#tokens >= this.#burst;
  }
  #refill(): void {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }
}

/** The address limits count against: an IPv4 address, or the /64 of an IPv6 one (one host holds a whole /64). */
export function addressKey(remote: string | undefined): string {
  if (!remote) return '?';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (v4) return v4[1];
  if (!remote.includes(':')) return remote;
  const [head, tail] = remote.split('%')[0].split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

interface Conn {
  ws: WebSocket;
  id: string;
  address: Address;
  state: 'pending' | 'checking' | 'admitted' | 'closing' | 'gone';
  challenge: Uint8Array;
  room?: Set<Conn>;
  timer?: ReturnType<typeof setTimeout>;
  /** Bytes handed to the socket and not yet written out; frames waiting in the relay's queue, and their bytes. */
  inflight: number;
  queue: Buffer[];
  queued: number;
  frames?: Bucket;
  bytes?: Bucket;
}

interface Address {
  key: string;
  pending: number;
  conns: number;
  rooms: Map<string, number>;
  attempts: Bucket;
}

export function startRelay(o: RelayOptions = {}): Promise<Relay> {
  const maxFrame = o.maxFrame ?? MAX_FRAME;
  const maxRooms = o.maxRooms ?? 1000;
  const maxPeers = o.maxPeersPerRoom ?? 64;
  const maxConnections = o.maxConnections ?? 4000;
  const maxBuffered = o.maxBuffered ?? 16 * MiB;
  const maxBufferedTotal = o.maxBufferedTotal ?? 512 * MiB;
  const maxPendingPerAddress = o.maxPendingPerAddress ?? 64;
  const maxPerAddress = o.maxConnectionsPerAddress ?? 256;
  const maxRoomsPerAddress = o.maxRoomsPerAddress ?? 64;
  const log = o.log ?? (() => undefined);
  const rooms = new Map<string, Set<Conn>>();
  const addresses = new Map<string, Address>();
  /** Connections awaiting admission, oldest first (the first closed when the relay is full). */
  const pending = new Set<Conn>();
  let admitted = 0;
  let forwarded = 0;
  let buffered = 0;
  let refused = 0;
  let slow = 0;
  const timestamps = createTimestampForwarder({ ...o.timestamp, allow: o.tsaAllow ?? [] });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    if (timestamps.handle(req, res)) return;
    // What the WebSocket server alone answered to plain HTTP.
    const body = STATUS_CODES[426]!;
    res.writeHead(426, { 'Content-Length': String(body.length), 'Content-Type': 'text/plain' });
    res.end(body);
  });
  const wss = new WebSocketServer({ server, maxPayload: maxFrame, perMessageDeflate: false });

  function addressOf(remote: string | undefined): Address {
    const key = addressKey(remote);
    let a = addresses.get(key);
    if (!a) {
      // Forget idle addresses (no connection, a full bucket: they say nothing a new entry would not) before the map grows large.
      if (addresses.size >= 10_000)
        for (const [k, v] of addresses) if (v.pending + v.conns === 0 && v.attempts.full()) addresses.delete(k);
      addresses.set(
        key,
        (a = {
          key,
          pending: 0,
          conns: 0,
          rooms: new Map(),
          attempts: new Bucket(o.attemptRate ?? 60, o.attemptBurst ?? 240)
        })
      );
    }
    return a;
  }

  /** Takes a connection out of its room and the counts (once), and drops what waits for it. */
  function leave(c: Conn): void {
    if (c.state === 'pending' || c.state === 'checking') {
      pending.delete(c);
      c.address.pending--;
    } else if (c.state === 'admitted') {
      admitted--;
      c.address.conns--;
      const n = (c.address.rooms.get(c.id) ?? 1) - 1;
      if (n > 0) c.address.rooms.set(c.id, n);
      else c.address.rooms.delete(c.id);
      c.room!.delete(c);
      if (c.room!.size === 0 && rooms.get(c.id) === c.room) rooms.delete(c.id);
    }
    buffered -= c.queued;
    c.queue = [];
    c.queued = 0;
    if (c.timer) clearTimeout(c.timer);
  }

  /** Closes a connection with a code and a one-line reason; its queued frames are dropped at once. */
  function shut(c: Conn, code: number, reason: string): void {
    if (c.state === 'closing' || c.state === 'gone') return;
    if (c.state !== 'admitted') refused++;
    leave(c);
    c.state = 'closing';
    c.ws.close(code, reason);
    // A reader that never reads never ends the closing handshake: its socket is dropped after the grace.
    c.timer = setTimeout(() => c.ws.terminate(), o.closeGraceMs ?? 10_000);
  }

  /** Hands a frame to the socket, counting it until it is written out. */
  function write(c: Conn, frame: Buffer): void {
    c.inflight += frame.length;
    buffered += frame.length;
    c.ws.send(frame, { binary: true }, () => {
      if (c.state === 'gone') return;
      c.inflight -= frame.length;
      buffered -= frame.length;
      while (c.queue.length > 0 && c.inflight < LOW_WATER && c.state === 'admitted') {
        const next = c.queue.shift()!;
        c.queued -= next.length;
        buffered -= next.length;
        write(c, next);
      }
    });
    forwarded++;
  }

  /** A frame for one member of a room: to its socket, or to the relay's queue while the socket is full. */
  function deliver(c: Conn, frame: Buffer): void {
    if (c.state !== 'admitted') return;
    if (c.queue.length === 0 && c.inflight < LOW_WATER) return write(c, frame);
    const waiting = c.inflight + c.queued + frame.length;
    if (waiting > maxBuffered || buffered + frame.length > maxBufferedTotal) {
      slow++;
      const why =
        waiting > maxBuffered
          ? `over ${Math.round(maxBuffered / MiB)} MiB waiting to be read`
          : 'the relay has too much waiting to be read';
      log(`closed a connection (1013): too slow, ${why}`);
      return shut(c, 1013, `too slow: ${why}`);
    }
    c.queue.push(frame);
    c.queued += frame.length;
    buffered += frame.length;
  }

  async function onProof(c: Conn, data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary || c.state !== 'pending')
      return shut(c, 1008, 'admission first: answer the challenge with the room key');
    c.state = 'checking';
    let proof: Uint8Array | undefined;
    try {
      const m = JSON.parse(data.toString('utf8'));
      if (typeof m?.proof === 'string') proof = fromBase64url(m.proof);
    } catch {
      proof = undefined;
    }
    const ok = proof !== undefined && (await checkAdmission(c.id, c.challenge, proof));
    if (c.state !== 'checking') return; // closed meanwhile
    if (!ok) return shut(c, 1008, 'admission refused: not a proof of this room key');
    let room = rooms.get(c.id);
    if (room && room.size >= maxPeers) return shut(c, 1013, 'room full');
    if (!room && rooms.size >= maxRooms) return shut(c, 1013, 'too many rooms');
    if (!c.address.rooms.has(c.id) && c.address.rooms.size >= maxRoomsPerAddress)
      return shut(c, 1013, 'too many rooms from this address');
    leave(c);
    c.state = 'admitted';
    if (!room) rooms.set(c.id, (room = new Set()));
    room.add(c);
    c.room = room;
    admitted++;
    c.address.conns++;
    c.address.rooms.set(c.id, (c.address.rooms.get(c.id) ?? 0) + 1);
    c.frames = new Bucket(o.frameRate ?? 500, o.frameBurst ?? 2000);
    c.bytes = new Bucket(o.byteRate ?? 32 * MiB, o.byteBurst ?? 64 * MiB);
    c.ws.send(admission.admitted());
  }

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const m = ROOM_PATH.exec(req.url ?? '');
    const refuse = (code: number, reason: string) => {
      refused++;
      ws.close(code, reason);
      const t = setTimeout(() => ws.terminate(), o.closeGraceMs ?? 10_000);
      ws.once('close', () => clearTimeout(t));
    };
    if (!m) return refuse(1008, 'expected /room/<id>, the id a room key of 43 base64url characters');
    const address = addressOf(req.socket.remoteAddress);
    if (!address.attempts.take(1)) return refuse(1013, 'too many connection attempts from this address');
    if (address.pending >= maxPendingPerAddress)
      return refuse(1013, 'too many connections awaiting admission from this address');
    if (address.pending + address.conns >= maxPerAddress) return refuse(1013, 'too many connections from this address');
    if (pending.size + admitted >= maxConnections) {
      // Full: a connection still to prove its room key makes way; without one, the newcomer is refused.
      const oldest = pending.values().next().value;
      if (!oldest) return refuse(1013, 'too many connections');
      shut(oldest, 1013, 'the relay is full: admission took too long');
    }
    const c: Conn = {
      ws,
      id: m[1],
      address,
      state: 'pending',
      challenge: randomBytes(CHALLENGE_LEN),
      inflight: 0,
      queue: [],
      queued: 0
    };
    pending.add(c);
    address.pending++;
    c.timer = setTimeout(() => shut(c, 1008, 'no admission proof in time'), o.admissionTimeoutMs ?? 10_000);
    ws.send(admission.challenge(c.challenge));
    ws.on('message', (data, isBinary) => {
      if (c.state === 'pending' || c.state === 'checking') {
        const text = data instanceof Buffer ? data : Buffer.concat(data as Buffer[]);
        return void onProof(c, text, isBinary).catch(() => shut(c, 1011, 'admission failed'));
      }
      if (c.state !== 'admitted') return;
      if (!isBinary) return shut(c, 1003, 'binary frames only');
      const frame = data instanceof Buffer ? data : Buffer.concat(data as Buffer[]);
      if (!c.frames!.take(1) || !c.bytes!.take(frame.length)) {
        log('closed a connection (1008): over its rate limit');
        return shut(c, 1008, 'rate limit');
      }
      o.onForward?.(c.id, new Uint8Array(frame.buffer, frame.byteOffset, frame.length));
      for (const peer of c.room!) if (peer !== c) deliver(peer, frame);
    });
    ws.on('close', () => {
      leave(c);
      buffered -= c.inflight;
      c.inflight = 0;
      c.state = 'gone';
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
        stats: () => ({
          rooms: rooms.size,
          peers: admitted,
          pending: pending.size,
          forwarded,
          timestamps: timestamps.stats().forwarded,
          buffered,
          refused,
          slow
        }),
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
    const { values } = parseArgs({
      options: { tsa: { type: 'string', multiple: true } },
      strict: true,
      allowPositionals: false
    });
    tsaAllow = tsaAllowList(process.env.PL_RELAY_TSA, values.tsa ?? []);
  } catch (e) {
    process.stderr.write(
      `relay: ${(e as Error).message}\nusage: npm run relay [-- --tsa <TSA URL>…]   (or PL_RELAY_TSA="<URL> <URL>…")\n`
    );
    process.exit(2);
  }
  const port = process.env.PORT ? Number(process.env.PORT) : 8787;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const relay = await startRelay({ port, tsaAllow, log: say, timestamp: { log: say } });
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
