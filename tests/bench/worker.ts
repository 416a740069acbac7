/**
 * One measurement of the bench, in a process of its own (so no run inherits another's Automerge wasm memory,
 * heap or JIT state). bench.ts spawns it and reads the one JSON line it prints on stdout. Run it directly to
 * profile one step, e.g.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof tests/bench/worker.ts append --n 10000 --durable
 *   node tests/bench/profile-top.ts /tmp/prof/*.cpuprofile
 *
 * or, profiling only the measured section (not start-up, key generation or body making):
 *
 *   node tests/bench/worker.ts append --n 10000 --durable --dir /tmp/l --profile /tmp/append.cpuprofile
 *
 * Tasks:
 *   append --dir DIR --n N [--durable] [--window 256] [--seed S]   create a ledger in DIR, append N events
 *          [--compact-after C]                                     (the core's compactAfter; default its own)
 *   seq    --dir DIR --n N [--durable] [--seed S]                  same, each append awaited before the next
 *   raw    --dir DIR --layout root|list|handle                      the ledger's events into a plain Automerge doc
 *   load   --dir DIR [--runs 5]                                     FsStorage.open + Ledger.open, repeated
 *   compact --dir DIR                                               Ledger.compact()
 *   verify --dir DIR [--runs 3]                                     ledger.verify() (default mode: the device log's signed
 *                                                                   tree head, attached and signed first if missing), verify
 *                                                                   --full, events only, and bare Ed25519 verifies
 *                                                                   (--profile profiles the default mode; with --profile-full,
 *                                                                   the --full runs)
 *   hook   --dir TMP --module NAME [--ledger DIR] [--n N] [--runs R] another layer's tests/bench/NAME.ts
 */
// First: the plain entry initializes Automerge's wasm, which the core's '@automerge/automerge/slim' relies on.
import * as A from '@automerge/automerge';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { FsStorage } from '../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../src/lib/core/ledger.ts';
import {
  generateDeviceKey,
  importPrivateKey,
  exportPrivateKey,
  signerFromCryptoKey,
  type Signer
} from '../../src/lib/core/keys.ts';
import { PAYLOAD_TYPE, pae } from '../../src/lib/core/event.ts';
import { canonicalBytes } from '../../src/lib/core/canonical.ts';
import { fromBase64url } from '../../src/lib/core/bytes.ts';
import { sshsigSignedData } from '../../src/lib/core/journal/sshsig.ts';
import { DeviceLog } from '../../src/lib/core/proofs/log.ts';
import { verifiedRecordKey } from '../../src/lib/core/verified-record.ts';
import { checklistBody, generationBodies, policySnapshotBody } from './events.ts';

const { positionals, values: parsed } = parseArgs({
  allowPositionals: true,
  options: Object.fromEntries([
    ...['dir', 'layout', 'runs', 'module', 'ledger', 'n', 'seed', 'window', 'compact-after', 'profile'].map((o) => [
      o,
      { type: 'string' as const }
    ]),
    ['durable', { type: 'boolean' as const }],
    ['profile-full', { type: 'boolean' as const }]
  ])
});
const values = parsed as Record<string, string | boolean | undefined>;
const task = positionals[0];
const arg = (name: string, d?: string): string | undefined => (values[name] as string | undefined) ?? d;
const flag = (name: string) => values[name] === true;
const num = (name: string, d: number) => Number(arg(name, String(d)));
const log = (m: string) => process.stderr.write(`${m}\n`);
const dir = arg('dir');
if (!task || !dir) {
  process.stderr.write(
    'usage: node tests/bench/worker.ts append|seq|raw|load|compact|verify|hook --dir DIR [options]\n'
  );
  process.exit(2);
}

/** The device key lives beside the ledger directory (DIR.key, PKCS#8), so later tasks reopen with it. */
async function signerFor(create: boolean, ledgerDir = dir!): Promise<Signer> {
  const keyFile = `${path.resolve(ledgerDir)}.key`;
  if (create) {
    const k = await generateDeviceKey(true);
    writeFileSync(keyFile, await exportPrivateKey(k.privateKey), { mode: 0o600 });
    const again = await importPrivateKey(await exportPrivateKey(k.privateKey));
    return signerFromCryptoKey(again.privateKey, again.publicKey);
  }
  const k = await importPrivateKey(new Uint8Array(readFileSync(keyFile)));
  return signerFromCryptoKey(k.privateKey, k.publicKey);
}

const open = async (signer?: Signer, ledgerDir = dir!) =>
  Ledger.open({ storage: await FsStorage.open(ledgerDir, { durable: true }), signer });

/** [id, canonical envelope JSON] of every stored event, oldest first. */
function entriesOf(ledger: Ledger): Array<[string, string]> {
  return ledger.events().map((e) => [e.id, ledger.envelopeJson(e.id)!]);
}

/** --profile FILE: a V8 CPU profile of the measured section only (read it with profile-top.ts). */
let session: Session | undefined;
async function profileStart(): Promise<void> {
  if (!arg('profile')) return;
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
}
async function profileStop(): Promise<void> {
  if (!session) return;
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(arg('profile')!, JSON.stringify(profile));
  session.disconnect();
  session = undefined;
}

const rss = () => Math.round(process.memoryUsage().rss / 1048576);
/** CPU time (user + system, all threads of this process) since `from`, in ms: less noisy than wall time here. */
const cpuMs = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

async function append(sequential: boolean) {
  const n = num('n', 10_000);
  const durable = flag('durable');
  const window = num('window', 256);
  mkdirSync(dir!, { recursive: true, mode: 0o700 });
  const signer = await signerFor(true);
  const storage = await FsStorage.open(dir!, { durable });
  const compactAfter = arg('compact-after') ? Number(arg('compact-after')) : undefined;
  const ledger = await Ledger.create({
    storage,
    signer,
    memberName: 'Ada Moreau',
    ledgerName: 'Studio bench',
    compactAfter
  });
  const ps = await ledger.append('policy-snapshot', policySnapshotBody());
  const cl = await ledger.append('checklist', checklistBody(ps.id));
  const bodies = generationBodies(n, { policySnapshot: ps.id, checklist: cl.id }, num('seed', 1));
  await profileStart();
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  if (sequential) {
    for (const b of bodies) await ledger.append('generation', b);
  } else {
    const inflight: Promise<unknown>[] = [];
    for (const b of bodies) {
      if (inflight.length >= window) await inflight.shift();
      inflight.push(ledger.append('generation', b));
    }
    await Promise.all(inflight);
    await ledger.flushed();
  }
  const ms = performance.now() - t;
  const cpu_ms = cpuMs(cpu0);
  await profileStop();
  if (ledger.size !== n + 3) throw new Error(`the ledger holds ${ledger.size} events, expected ${n + 3}`);
  return { ms, cpu_ms, events: n, per_s: n / (ms / 1000), size: ledger.size, rss_mb: rss() };
}

function raw(entries: Array<[string, string]>, layout: string) {
  const t = performance.now();
  let bytes: Uint8Array;
  if (layout === 'root') {
    // The ledger's own layout: one root key per event id.
    let doc = A.init<Record<string, A.ImmutableString>>();
    for (const [id, text] of entries) {
      doc = A.change(doc, (d) => {
        d[id] = new A.ImmutableString(text);
      });
    }
    bytes = A.save(doc);
  } else if (layout === 'list') {
    let doc = A.change(A.init<{ events: A.ImmutableString[] }>(), (d) => {
      d.events = [];
    });
    for (const [, text] of entries) {
      doc = A.change(doc, (d) => {
        d.events.push(new A.ImmutableString(text));
      });
    }
    bytes = A.save(doc);
  } else if (layout === 'handle') {
    // The wasm handle directly (A.getBackend): put + commit per event, no JS document materialized.
    const doc = A.init<Record<string, A.ImmutableString>>();
    const h = A.getBackend(doc);
    for (const [id, text] of entries) {
      h.put('_root', id, text, 'str');
      h.commit(null, Math.floor(Date.now() / 1000));
    }
    bytes = h.save();
  } else throw new Error(`unknown layout ${layout}`);
  const ms = performance.now() - t;
  const loads: number[] = [];
  const loadsCpu: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t2 = performance.now();
    const c2 = process.cpuUsage();
    A.load(bytes);
    loads.push(performance.now() - t2);
    loadsCpu.push(cpuMs(c2));
  }
  return {
    ms,
    events: entries.length,
    per_s: entries.length / (ms / 1000),
    bytes: bytes.length,
    load_ms: loads,
    load_cpu_ms: loadsCpu,
    rss_mb: rss()
  };
}

async function verify() {
  const runs = num('runs', 3);
  // The device log a CLI or web ledger keeps beside its document, with its signed checkpoint (what `record`
  // leaves): attached and signed here, not timed, when the ledger has none yet.
  {
    const storage = await FsStorage.open(dir!, { durable: true });
    if ((await storage.listKeys(['log', 'checkpoints'])).length === 0) {
      const signer = await signerFor(false);
      const ledger = await Ledger.open({ storage, signer });
      const dlog = await DeviceLog.attach(ledger, storage, { signer });
      await dlog.settled();
      dlog.detach();
    }
  }
  const ledger = await open();
  // This device's verified record (cache/verified): none before the first run, which is cold and writes it; the
  // later runs use it, as a device's later verifies do.
  const key = await verifiedRecordKey(readFileSync(`${path.resolve(dir!)}.key`));
  await rm(path.join(dir!, 'cache', 'verified+'), { force: true });
  const times: number[] = [];
  let report;
  const profileFull = values['profile-full'] === true;
  let pinned = 0;
  if (!profileFull) await profileStart();
  const cpuTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    report = await ledger.verify({ record: { key } });
    cpuTimes.push(cpuMs(c));
    if (r > 0 && !report.record) throw new Error('verify did not use the record its first run wrote');
    pinned = report.record?.pinned ?? pinned;
    times.push(performance.now() - t);
    if (!report.ok || report.valid !== ledger.size) break;
  }
  await profileStop();
  const covered = report?.signatures?.covered ?? 0;
  // verify --full: every event and journal signature checked one by one.
  const full: number[] = [];
  if (profileFull) await profileStart();
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const rep = await ledger.verify({ full: true });
    full.push(performance.now() - t);
    if (!rep.ok) throw new Error('verify --full failed');
  }
  await profileStop();
  // Where the time goes: full without the journal signatures (events: schema, id, signature, roster).
  const eventsOnly: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const rep = await ledger.verify({ journal: false, full: true });
    eventsOnly.push(performance.now() - t);
    if (!rep.ok) throw new Error('events-only verify failed');
  }
  // The floor: bare WebCrypto Ed25519 verification of the same signatures, batched as verify() batches.
  const items = entriesOf(ledger).map(([, text]) => {
    const env = JSON.parse(text) as { event: { author: string }; sig: string };
    return { key: env.event.author, msg: pae(PAYLOAD_TYPE, canonicalBytes(env.event)), sig: fromBase64url(env.sig) };
  });
  // ... and of every signature verify() checks: each event's, and its journal commit's (sshsig over the commit).
  const journalItems = [];
  for (const ev of ledger.events()) {
    const c = (await ledger.journalCommit(ev.id)) as { unsigned?: Uint8Array; signature: Uint8Array } | undefined;
    if (!c?.unsigned) throw new Error(`event ${ev.id} has no journal commit`);
    journalItems.push({ key: ev.event.author, msg: await sshsigSignedData(c.unsigned), sig: c.signature });
  }
  const keys = new Map<string, CryptoKey>();
  for (const it of items) {
    if (!keys.has(it.key))
      keys.set(
        it.key,
        await crypto.subtle.importKey('raw', fromBase64url(it.key) as BufferSource, { name: 'Ed25519' }, false, [
          'verify'
        ])
      );
  }
  const bareRuns = async (list: typeof items): Promise<number[]> => {
    const out: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      for (let i = 0; i < list.length; i += 512) {
        const ok = await Promise.all(
          list
            .slice(i, i + 512)
            .map((it) =>
              crypto.subtle.verify(
                { name: 'Ed25519' },
                keys.get(it.key)!,
                it.sig as BufferSource,
                it.msg as BufferSource
              )
            )
        );
        if (ok.includes(false)) throw new Error('a signature failed the bare check');
      }
      out.push(performance.now() - t);
    }
    return out;
  };
  const bare = await bareRuns(items);
  const bareAll = await bareRuns([...items, ...journalItems]);
  return {
    times,
    cpu_times: cpuTimes,
    covered,
    pinned,
    full_times: full,
    events_only_times: eventsOnly,
    bare_times: bare,
    bare_all_times: bareAll,
    ok: report!.ok,
    valid: report!.valid,
    size: ledger.size,
    problems: report!.problems.slice(0, 5).map((p) => `${p.code} ${p.eventId ?? ''} ${p.message}`)
  };
}

/**
 * Runs another layer's bench module (tests/bench/NAME.ts). Entry points, in this order:
 *  - an exported `bench`, `run` or default function: called once with the context below;
 *  - otherwise every exported function named bench*, *Benchmark(s) or run*Bench: called with no arguments.
 * Each may return a number (the figure under the function's name), a plain object of figures (keys as in
 * `npm run bench -- --json`), or { json?: figures, rows?: table rows }.
 */
const ENTRY = /^bench[A-Z0-9_]|Benchmarks?$|^run\w*Bench$/;

async function hook() {
  const name = arg('module')!;
  const mod = (await import(
    pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.ts`)).href
  )) as Record<string, unknown>;
  type Fn = (...a: unknown[]) => unknown;
  const isFn = (f: unknown): f is Fn => typeof f === 'function';
  const main = (['bench', 'run', 'default'] as const).find((k) => isFn(mod[k]));
  const calls: Array<[string, () => unknown]> = [];
  if (main) {
    const ledgerDir = arg('ledger');
    const ctx = {
      /** Number of events the layer's figures are about (10,000 unless --n). */
      n: num('n', 10_000),
      /** --runs when given, else undefined (choose your own). */
      runs: arg('runs') ? Number(arg('runs')) : undefined,
      /** A fresh directory inside the bench's temp dir, removed at the end. */
      tmpDir: dir,
      log,
      median: (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1],
      /** The bench's compacted FsStorage ledger of n + 3 events, and its device key (PKCS#8), if one was made. */
      ledgerDir,
      keyFile: ledgerDir ? `${path.resolve(ledgerDir)}.key` : undefined
    };
    calls.push([main, () => (mod[main] as Fn)(ctx)]);
  } else {
    for (const [k, f] of Object.entries(mod)) if (isFn(f) && ENTRY.test(k)) calls.push([k, () => f()]);
  }
  const figures: Record<string, unknown> = {};
  const rows: unknown[] = [];
  for (const [k, call] of calls) {
    log(`  ${name}: ${k}()`);
    const out = await call();
    if (typeof out === 'number') figures[k] = out;
    else if (out && typeof out === 'object') {
      const o = out as { json?: Record<string, unknown>; rows?: unknown[] };
      if ('json' in o || 'rows' in o) {
        Object.assign(figures, o.json ?? {});
        rows.push(...(o.rows ?? []));
      } else Object.assign(figures, out);
    }
  }
  return { called: calls.map(([k]) => k), figures, rows };
}

let result: unknown;
switch (task) {
  case 'append':
    result = await append(false);
    break;
  case 'seq':
    result = await append(true);
    break;
  case 'raw': {
    const entries = entriesOf(await open());
    result = raw(entries, arg('layout', 'root')!);
    break;
  }
  case 'load': {
    const runs = num('runs', 5);
    const times: number[] = [];
    let size = 0;
    await profileStart();
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      const ledger = await open();
      times.push(performance.now() - t);
      size = ledger.size;
    }
    await profileStop();
    result = { times, size, rss_mb: rss() };
    break;
  }
  case 'compact': {
    const ledger = await open(await signerFor(false));
    const t = performance.now();
    await ledger.compact();
    result = { ms: performance.now() - t };
    break;
  }
  case 'verify':
    result = await verify();
    break;
  case 'hook':
    result = await hook();
    break;
  default:
    process.stderr.write(`unknown task ${task}\n`);
    process.exit(2);
}
// Exit even if a hook module left a server or timer running.
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
