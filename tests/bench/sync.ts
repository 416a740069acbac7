/**
 * Sync benchmark hooks (called by tests/bench/bench.ts; runnable alone: node tests/bench/sync.ts).
 *   sync_5k_5k_ms            two devices with 5,000 divergent events each converge through a real relay, each in
 *                            a process of its own (as two devices are); the second runs this file with --peer
 *   sync_5k_5k_one_process_ms  the same with both devices in one process (their work adds up on one thread)
 *   sync_5k_5k_one_process_cpu_ms  its CPU time (user + system, all threads): moves less with the load than wall
 *   sync_5k_5k_round_trips   sync messages each way until converged (max of the two directions)
 *   sync_bytes_ratio_vs_raw  sealed bytes sent / bytes raw Automerge sync sends for the same work
 *   raw_automerge_sync_5k_5k_ms  the anchor: raw Automerge sync of the same two documents, in one process, no
 *                            crypto, no checks (generate/receive sync messages until neither has more)
 * Each device keeps its device log (as the CLI and the web app do), so each receives the other's events under
 * the other's signed tree head (ledger-schema/README.md section 19).
 *   sync_one_event_ms        one new event appended on one device, until the connected peer holds it
 *   relay_peers_held         concurrent peers the relay held in 10 rooms with no frame lost (of 50)
 */
import '@automerge/automerge';
import * as A from '@automerge/automerge';
import { startRelay } from '../../src/relay/server.ts';
import { connectRelay } from '../../src/lib/adapters/transport/websocket.ts';
import { SyncHub } from '../../src/lib/core/sync/hub.ts';
import { decodeTeamKey, encodeTeamKey, newTeamKey, roomKey } from '../../src/lib/core/team/teamkey.ts';
import { randomRoomKey } from '../../src/lib/core/sync/room.ts';
import { MemoryStorage } from '../../src/lib/adapters/storage/memory.ts';
import { Ledger, defaultMemberId } from '../../src/lib/core/ledger.ts';
import {
  exportPrivateKey,
  generateDeviceKey,
  importPrivateKey,
  signerFromCryptoKey,
  type Signer
} from '../../src/lib/core/keys.ts';
import { initHash, sha256HexSync } from '../../src/lib/core/hash.ts';
import { fromBase64url, toBase64url } from '../../src/lib/core/bytes.ts';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { DeviceLog } from '../../src/lib/core/proofs/log.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await sleep(2);
  }
}

async function signer(): Promise<Signer & { pkcs8: Uint8Array }> {
  const k = await generateDeviceKey(true);
  return Object.assign(signerFromCryptoKey(k.privateKey, k.publicKey), { pkcs8: await exportPrivateKey(k.privateKey) });
}

function clock(start: number): () => Date {
  let t = start;
  return () => new Date((t += 1));
}

let n = 0;
const body = () => {
  n++;
  const hex = (i: number) => (n * 10 + i).toString(16).padStart(64, '0');
  return {
    platform: { name: 'Tripo' },
    mode: 'text-to-3d',
    prompt: { alg: 'sha256-salt32-utf8-v1', commitment: hex(0) },
    inputs: [],
    outputs: [{ name: `m-${n}.glb`, format: 'glb', size: 1000 + n, sha256: hex(1) }],
    settings: { trainingOptOut: true, privacyMode: true },
    project: 'Bench',
    classification: 'client',
    policySnapshots: []
  };
};

/** Two devices of one team, `each` divergent events on each. */
async function twoDevices(each: number) {
  await initHash();
  const sa = await signer();
  const sb = await signer();
  const storeA = new MemoryStorage();
  const a = await Ledger.create({
    storage: storeA,
    signer: sa,
    memberName: 'A',
    ledgerName: 'Bench',
    now: clock(Date.parse('2026-01-01T00:00:00Z'))
  });
  await a.append('member', {
    action: 'add',
    member: { id: defaultMemberId(sb.publicKey), name: 'B', key: sb.publicKey, role: 'member' }
  });
  const storeB = new MemoryStorage();
  const bytes = A.save(a.doc);
  await storeB.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  const b = await Ledger.open({ storage: storeB, signer: sb, now: clock(Date.parse('2026-01-01T00:00:01Z')) });
  const batch = async (l: Ledger) => {
    const ps = [];
    for (let i = 0; i < each; i++) ps.push(l.append('generation', body()));
    await Promise.all(ps);
  };
  await batch(a);
  await batch(b);
  return {
    a: { ledger: a, storage: storeA, signer: sa, before: A.save(a.doc) },
    b: { ledger: b, storage: storeB, signer: sb, before: A.save(b.doc) }
  };
}

interface Device {
  ledger: Ledger;
  storage: MemoryStorage;
  signer: Signer & { pkcs8: Uint8Array };
  /** The document as it was before any sync. */
  before: Uint8Array;
}

/** A V8 CPU profile of this process from now until stop() (read it with profile-top.ts); a no-op without a file. */
async function profileTo(file: string | undefined): Promise<{ stop: () => Promise<void> }> {
  if (!file) return { stop: async () => undefined };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
  return {
    stop: async () => {
      writeFileSync(file, JSON.stringify((await session.post('Profiler.stop')).profile));
      session.disconnect();
    }
  };
}

/** Bytes and round trips raw Automerge sync needs for the same two documents. */
function rawSync(docA: A.Doc<unknown>, docB: A.Doc<unknown>): { bytes: number; rounds: number } {
  let sA = A.initSyncState();
  let sB = A.initSyncState();
  let bytes = 0;
  let rounds = 0;
  for (;;) {
    let moved = false;
    let m: Uint8Array | null;
    [sA, m] = A.generateSyncMessage(docA, sA);
    if (m) {
      bytes += m.length;
      [docB, sB] = A.receiveSyncMessage(docB, sB, m);
      moved = true;
      rounds++;
    }
    [sB, m] = A.generateSyncMessage(docB, sB);
    if (m) {
      bytes += m.length;
      [docA, sA] = A.receiveSyncMessage(docA, sA, m);
      moved = true;
    }
    if (!moved) break;
  }
  return { bytes, rounds };
}

export interface SyncBench {
  sync_5k_5k_ms: number;
  sync_5k_5k_one_process_ms: number;
  /** CPU time (user + system, every thread) of the one-process run: both devices' work, less noisy than wall. */
  sync_5k_5k_one_process_cpu_ms: number;
  sync_5k_5k_round_trips: number;
  sync_bytes_ratio_vs_raw: number;
  sync_one_event_ms: number;
  raw_automerge_sync_5k_5k_ms: number;
}

/**
 * The second device in a process of its own: `node tests/bench/sync.ts --peer CONFIG`. It opens its ledger,
 * says "ready", starts syncing on "go", says "converged <bytes sent> <messages sent>" once it holds `total`
 * events and its hub is quiet, then "one" once it holds one more.
 */
async function peerProcess(configFile: string): Promise<void> {
  const cfg = JSON.parse(readFileSync(configFile, 'utf8'));
  await initHash();
  const storage = new MemoryStorage();
  const bytes = new Uint8Array(readFileSync(cfg.doc));
  await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  const k = await importPrivateKey(fromBase64url(cfg.pkcs8));
  const ledger = await Ledger.open({ storage, signer: signerFromCryptoKey(k.privateKey, k.publicKey) });
  for (const h of ledger.heads()) ledger.commitOf(h); // as reopen() does
  const log = await DeviceLog.attach(ledger, storage, { signer: signerFromCryptoKey(k.privateKey, k.publicKey) });
  const team = decodeTeamKey(fromBase64url(cfg.team))!;
  const lines = createInterface({ input: process.stdin });
  const say = (m: string) => process.stdout.write(m + '\n');
  say('ready');
  for await (const line of lines) {
    if (line !== 'go') continue;
    // PL_SYNC_PROFILE=FILE (set by --profile DIR): a V8 CPU profile of this device's side of the sync, from "go"
    // until it converged.
    const profiler = await profileTo(process.env.PL_SYNC_PROFILE);
    const rk = await roomKey(team);
    const hub = await SyncHub.start({
      ledger,
      storage,
      signer: signerFromCryptoKey(k.privateKey, k.publicKey),
      team,
      room: rk.id,
      transport: await connectRelay(cfg.relay, rk),
      log,
      onReport: process.env.PL_BENCH_DEBUG ? (r) => console.error(JSON.stringify(r).slice(0, 300)) : undefined
    });
    await until(() => ledger.size === cfg.total, 120_000);
    say(`converged ${performance.now()}`);
    await profiler.stop();
    await until(() => hub.quiet(100), 10_000);
    const p = hub.peers()[0];
    say(`quiet ${p.bytesSent} ${p.sent}`);
    await until(() => ledger.size === cfg.total + 1, 20_000);
    say('one');
    await hub.close();
    break;
  }
  lines.close();
}

/** Two devices, `each` divergent events each, converging through a real relay on loopback, in two processes. */
/**
 * `profileDir`: CPU profiles of the two-process run, `a.cpuprofile` (this process: device A and the relay) and
 * `b.cpuprofile` (the peer process), each from the start of the sync until that device converged.
 */
export async function benchSync(each = 5000, profileDir?: string): Promise<SyncBench> {
  const { a, b } = await twoDevices(each);
  const rawT0 = performance.now();
  const raw = rawSync(A.clone(a.ledger.doc) as A.Doc<unknown>, A.clone(b.ledger.doc) as A.Doc<unknown>);
  const rawMs = performance.now() - rawT0;
  const total = a.ledger.size + b.ledger.size - 2;
  const oneProcess = await syncInProcess(a, b);
  const relay = await startRelay({ port: 0, frameRate: 100_000, frameBurst: 100_000, byteRate: 1e12, byteBurst: 1e12 });
  const dir = mkdtempSync(path.join(tmpdir(), 'pl-sync-bench-'));
  try {
    const team = newTeamKey(1);
    const rk = await roomKey(team);
    const room = rk.id;
    // The peer starts from B's ledger as it was before the in-process run (a fresh pair of the same documents).
    writeFileSync(path.join(dir, 'b.doc'), b.before);
    const config = {
      doc: path.join(dir, 'b.doc'),
      pkcs8: toBase64url(b.signer.pkcs8),
      team: toBase64url(encodeTeamKey(team)),
      room,
      relay: relay.url,
      total
    };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const freshA = await reopen(a.before, a.signer);
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--peer', path.join(dir, 'config.json')], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: profileDir ? { ...process.env, PL_SYNC_PROFILE: path.join(profileDir, 'b.cpuprofile') } : process.env
    });
    const said: Array<{ line: string; at: number }> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => said.push({ line, at: performance.now() }));
    const heard = async (word: string) => {
      await until(() => said.some((x) => x.line.startsWith(word)), 120_000);
      return said.find((x) => x.line.startsWith(word))!;
    };
    await heard('ready');
    const profiler = await profileTo(profileDir && path.join(profileDir, 'a.cpuprofile'));
    const t0 = performance.now();
    child.stdin!.write('go\n');
    const ha = await SyncHub.start({
      ledger: freshA.ledger,
      storage: freshA.storage,
      signer: a.signer,
      team,
      room,
      transport: await connectRelay(relay.url, rk),
      log: freshA.log
    });
    await until(() => freshA.ledger.size === total, 120_000);
    const doneA = performance.now();
    await profiler.stop();
    const doneB = (await heard('converged')).at;
    const ms = Math.max(doneA, doneB) - t0;
    const [, bytesB, sentB] = (await heard('quiet')).line.split(' ').map(Number);
    await until(() => ha.quiet(100), 10_000);
    const pa = ha.peers()[0];
    const t1 = performance.now();
    await freshA.ledger.append('generation', body());
    ha.poke();
    const one = (await heard('one')).at - t1;
    await ha.close();
    child.stdin!.end();
    return {
      sync_5k_5k_ms: Math.round(ms),
      sync_5k_5k_one_process_ms: oneProcess.ms,
      sync_5k_5k_one_process_cpu_ms: oneProcess.cpuMs,
      sync_5k_5k_round_trips: Math.max(pa.sent, sentB),
      sync_bytes_ratio_vs_raw: Math.round(((pa.bytesSent + bytesB) / raw.bytes) * 1000) / 1000,
      sync_one_event_ms: Math.round(one * 10) / 10,
      raw_automerge_sync_5k_5k_ms: Math.round(rawMs)
    };
  } finally {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function reopen(doc: Uint8Array, s: Signer) {
  const storage = new MemoryStorage();
  await storage.save(['doc', 'snapshot', sha256HexSync(doc)], doc);
  const ledger = await Ledger.open({ storage, signer: s });
  // A device with its Git journal attached knows its events' commit ids (the journal's event map); a bare
  // Ledger.open works them out at its first append (about 0.5 s at 10,000 events), which is not sync.
  for (const h of ledger.heads()) ledger.commitOf(h);
  // Its device log, attached (and its checkpoint signed) before the sync starts, as a device has it.
  const log = await DeviceLog.attach(ledger, storage, { signer: s });
  return { storage, ledger, log };
}

/** The same convergence with both devices in this process. */
async function syncInProcess(a: Device, b: Device): Promise<{ ms: number; cpuMs: number }> {
  const relay = await startRelay({ port: 0, frameRate: 100_000, frameBurst: 100_000, byteRate: 1e12, byteBurst: 1e12 });
  try {
    const team = newTeamKey(1);
    const rk = await roomKey(team);
    const room = rk.id;
    const total = a.ledger.size + b.ledger.size - 2;
    const logA = await DeviceLog.attach(a.ledger, a.storage, { signer: a.signer });
    const logB = await DeviceLog.attach(b.ledger, b.storage, { signer: b.signer });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const ha = await SyncHub.start({ ...a, team, room, transport: await connectRelay(relay.url, rk), log: logA });
    const hb = await SyncHub.start({ ...b, team, room, transport: await connectRelay(relay.url, rk), log: logB });
    await until(() => a.ledger.size === total && b.ledger.size === total, 60_000);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await until(() => ha.quiet(100) && hb.quiet(100), 10_000);
    await ha.close();
    await hb.close();
    return { ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
  } finally {
    await relay.close();
  }
}

/** `peers` connections spread over `rooms` rooms, each sending `frames` frames; counts what arrived. */
export async function holdPeers(
  peers = 50,
  rooms = 10,
  frames = 20
): Promise<{ peers: number; lost: number; crossRoom: number }> {
  // Every peer here comes from 127.0.0.1, all at once: the per-address limit of connections awaiting admission is
  // raised to let them (it is not what this measures).
  const relay = await startRelay({ port: 0, maxPendingPerAddress: peers });
  try {
    const keys = await Promise.all(Array.from({ length: rooms }, () => randomRoomKey()));
    const conns = await Promise.all(
      Array.from({ length: peers }, async (_, i) => {
        const t = await connectRelay(relay.url, keys[i % rooms]);
        const got: Uint8Array[] = [];
        t.onFrame((f) => got.push(f));
        return { i, room: i % rooms, t, got };
      })
    );
    await sleep(50);
    for (let k = 0; k < frames; k++) for (const c of conns) c.t.send(Uint8Array.of(c.room, c.i, k));
    const expected = (c: (typeof conns)[0]) => (conns.filter((d) => d.room === c.room).length - 1) * frames;
    await until(() => conns.every((c) => c.got.length >= expected(c)), 10_000).catch(() => undefined);
    let lost = 0;
    let crossRoom = 0;
    for (const c of conns) {
      lost += Math.max(0, expected(c) - c.got.length);
      crossRoom += c.got.filter((f) => f[0] !== c.room).length;
    }
    const held = relay.stats().peers;
    for (const c of conns) c.t.close();
    return { peers: lost === 0 && crossRoom === 0 ? held : 0, lost, crossRoom };
  } finally {
    await relay.close();
  }
}

export async function benchRelay(): Promise<{ relay_peers_held: number }> {
  return { relay_peers_held: (await holdPeers(50, 10, 20)).peers };
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--peer') {
  await peerProcess(process.argv[3]);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  // node tests/bench/sync.ts [N] [--profile DIR]
  const args = process.argv.slice(2);
  const at = args.indexOf('--profile');
  const profileDir = at >= 0 ? args.splice(at, 2)[1] : undefined;
  if (at >= 0 && !profileDir) throw new Error('--profile DIR');
  const each = Number(args[0] ?? 5000);
  console.log(JSON.stringify({ ...(await benchSync(each, profileDir)), ...(await benchRelay()) }, null, 2));
  if (profileDir) console.error(`profiles: ${profileDir}/a.cpuprofile ${profileDir}/b.cpuprofile`);
}
