/**
 * Sync benchmark hooks (called by tests/bench/bench.ts; runnable alone: node tests/bench/sync.ts).
 *   sync_5k_5k_ms            two devices with 5,000 divergent events each converge through a real relay
 *   sync_5k_5k_round_trips   sync messages each way until converged (max of the two directions)
 *   sync_bytes_ratio_vs_raw  sealed bytes sent / bytes raw Automerge sync sends for the same work
 *   sync_one_event_ms        one new event appended on one device, until the connected peer holds it
 *   relay_peers_held         concurrent peers the relay held in 10 rooms with no frame lost (of 50)
 */
import '@automerge/automerge';
import * as A from '@automerge/automerge';
import { startRelay } from '../../src/relay/server.ts';
import { connectRelay } from '../../src/lib/adapters/transport/websocket.ts';
import { SyncHub } from '../../src/lib/core/sync/hub.ts';
import { newTeamKey, roomId } from '../../src/lib/core/team/teamkey.ts';
import { MemoryStorage } from '../../src/lib/adapters/storage/memory.ts';
import { Ledger, defaultMemberId } from '../../src/lib/core/ledger.ts';
import { generateDeviceKey, signerFromCryptoKey, type Signer } from '../../src/lib/core/keys.ts';
import { initHash, sha256HexSync } from '../../src/lib/core/hash.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await sleep(2);
  }
}

async function signer(): Promise<Signer> {
  const k = await generateDeviceKey(false);
  return signerFromCryptoKey(k.privateKey, k.publicKey);
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
  const a = await Ledger.create({ storage: storeA, signer: sa, memberName: 'A', ledgerName: 'Bench', now: clock(Date.parse('2026-01-01T00:00:00Z')) });
  await a.append('member', { action: 'add', member: { id: defaultMemberId(sb.publicKey), name: 'B', key: sb.publicKey, role: 'member' } });
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
  return { a: { ledger: a, storage: storeA, signer: sa }, b: { ledger: b, storage: storeB, signer: sb } };
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
    if (m) ((bytes += m.length), ([docB, sB] = A.receiveSyncMessage(docB, sB, m)), (moved = true), rounds++);
    [sB, m] = A.generateSyncMessage(docB, sB);
    if (m) ((bytes += m.length), ([docA, sA] = A.receiveSyncMessage(docA, sA, m)), (moved = true));
    if (!moved) break;
  }
  return { bytes, rounds };
}

export interface SyncBench {
  sync_5k_5k_ms: number;
  sync_5k_5k_round_trips: number;
  sync_bytes_ratio_vs_raw: number;
  sync_one_event_ms: number;
}

/** Two devices, `each` divergent events each, converging through a real relay on loopback. */
export async function benchSync(each = 5000): Promise<SyncBench> {
  const { a, b } = await twoDevices(each);
  const raw = rawSync(A.clone(a.ledger.doc) as A.Doc<unknown>, A.clone(b.ledger.doc) as A.Doc<unknown>);
  const relay = await startRelay({ port: 0, frameRate: 100_000, frameBurst: 100_000, byteRate: 1e12, byteBurst: 1e12 });
  try {
    const team = newTeamKey(1);
    const room = await roomId(team);
    const total = a.ledger.size + b.ledger.size - 2;
    const t0 = performance.now();
    const ha = await SyncHub.start({ ...a, team, room, transport: await connectRelay(relay.url, room) });
    const hb = await SyncHub.start({ ...b, team, room, transport: await connectRelay(relay.url, room) });
    await until(() => a.ledger.size === total && b.ledger.size === total, 60_000);
    const ms = performance.now() - t0;
    await until(() => ha.quiet(100) && hb.quiet(100), 10_000);
    const pa = ha.peers()[0];
    const pb = hb.peers()[0];
    const sent = pa.bytesSent + pb.bytesSent;
    // One new event to a connected peer.
    const t1 = performance.now();
    await a.ledger.append('generation', body());
    ha.poke();
    await until(() => b.ledger.size === total + 1, 10_000);
    const one = performance.now() - t1;
    await ha.close();
    await hb.close();
    return {
      sync_5k_5k_ms: Math.round(ms),
      sync_5k_5k_round_trips: Math.max(pa.sent, pb.sent),
      sync_bytes_ratio_vs_raw: Math.round((sent / raw.bytes) * 1000) / 1000,
      sync_one_event_ms: Math.round(one * 10) / 10
    };
  } finally {
    await relay.close();
  }
}

/** `peers` connections spread over `rooms` rooms, each sending `frames` frames; counts what arrived. */
export async function holdPeers(peers = 50, rooms = 10, frames = 20): Promise<{ peers: number; lost: number; crossRoom: number }> {
  const relay = await startRelay({ port: 0 });
  try {
    const conns = await Promise.all(
      Array.from({ length: peers }, async (_, i) => {
        const room = `bench-room-${i % rooms}`;
        const t = await connectRelay(relay.url, room);
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const each = Number(process.argv[2] ?? 5000);
  console.log(JSON.stringify({ ...(await benchSync(each)), ...(await benchRelay()) }, null, 2));
}
