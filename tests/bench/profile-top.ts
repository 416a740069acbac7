/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, and self time by source
 * file, as percentages of the sampled time (idle and GC shown separately).
 * Usage: node tests/bench/profile-top.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const file = process.argv[2];
const topIdx = process.argv.indexOf('--top');
const TOP = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 25;
if (!file) {
  process.stderr.write('usage: node tests/bench/profile-top.ts FILE.cpuprofile [--top 25]\n');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from samples and time deltas (more exact than hitCount).
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i + 1] ?? 0;
  self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const short = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, 'nm/')
    .replace(/^.*\/work\/main\//, '');
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${n.callFrame.url ? ':' + (n.callFrame.lineNumber + 1) : ''}`;

const fnSelf = new Map<string, number>();
const fileSelf = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + t);
  const f = n.callFrame.url ? short(n.callFrame.url) : n.callFrame.functionName || '(native)';
  fileSelf.set(f, (fileSelf.get(f) ?? 0) + t);
}

// Inclusive time per function label (counted once per sample stack).
const incl = new Map<string, number>();
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i + 1] ?? 0;
  const seen = new Set<string>();
  for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
    const l = label(byId.get(id)!);
    if (!seen.has(l)) {
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + dt);
    }
  }
}

/**
 * Where the time went, by component of the ledger: each sample goes to the first bucket (in this order) that
 * any frame of its stack matches, so "A.change: root copy" is counted apart from the rest of A.change.
 */
const BUCKETS: Array<[string, (fn: string, url: string) => boolean]> = [
  ['(idle: waiting on I/O or the thread pool)', (fn) => fn === '(idle)'],
  ['(garbage collector)', (fn) => fn === '(garbage collector)'],
  ['Automerge A.change: JS root object copy (applyAndReturnPatches)', (fn) => fn === 'applyAndReturnPatches'],
  [
    'Automerge A.change: puts, proxies, commit',
    (fn, url) => (fn === 'change' || fn === '_change') && url.includes('automerge')
  ],
  [
    'Automerge save / saveSince',
    (fn, url) => /^(save|saveSince|saveIncremental)$/.test(fn) && url.includes('automerge')
  ],
  ['Automerge load', (fn, url) => /^(load|loadIncremental)$/.test(fn) && url.includes('automerge')],
  ['Automerge other', (_, url) => url.includes('automerge')],
  ['journal commit signing / checking (core/journal)', (_, url) => url.includes('/core/journal/')],
  [
    'Ed25519 sign / verify (WebCrypto)',
    (fn, url) =>
      /signVerify|eddsaSignVerify/.test(fn) || (url.includes('node:internal/crypto') && fn !== 'randomFillSync')
  ],
  [
    'schema validation (ajv validators)',
    (fn, url) => fn === 'validateEvent' || url.includes('validators.js') || url.includes('/ajv/')
  ],
  ['canonical JSON (canonicalize)', (fn, url) => fn === 'canonicalJson' || url.includes('canonicalize')],
  ['SHA-256 (hash-wasm)', (fn, url) => /^sha256/.test(fn) || url.includes('hash-wasm')],
  ['roster / acceptance / index', (_, url) => /core\/(roster|query)\.ts/.test(url) || false],
  [
    'storage (fs adapter, node:fs)',
    (_, url) => url.includes('adapters/storage/') || url.includes('node:internal/fs') || url === 'node:fs'
  ],
  ['bench harness (events.ts, worker.ts)', (_, url) => url.includes('tests/bench/')],
  ['module loading / compiling', (_, url) => url.includes('node:internal/modules') || url.includes('amaro')]
];
const bucketTime = new Map<string, number>();
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i + 1] ?? 0;
  const frames: Node[] = [];
  for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) frames.push(byId.get(id)!);
  const hit = BUCKETS.find(([, test]) => frames.some((f) => test(f.callFrame.functionName, f.callFrame.url)));
  const name = hit ? hit[0] : 'other';
  bucketTime.set(name, (bucketTime.get(name) ?? 0) + dt);
}

const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
const ms = (t: number) => `${(t / 1000).toFixed(0).padStart(7)} ms`;
const show = (title: string, m: Map<string, number>, k = TOP) => {
  console.log(`\n${title}`);
  for (const [l, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k)) console.log(`${pct(t)} ${ms(t)}  ${l}`);
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
show('by component (each sample counted once)', bucketTime, BUCKETS.length + 1);
show('self time by function', fnSelf);
show('self time by file', fileSelf, 15);
show('inclusive time by function', incl);
