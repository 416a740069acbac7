/**
 * The damage campaign through the core (no process per command): a ledger with every event type, its device log,
 * checkpoints, a real RFC 3161 token, policy texts and a prompt opening is copied into memory; one stored file at a
 * time is flipped, truncated or deleted. The core's checks (Ledger.verifyStorage, checkStoredLog, checkTimestamps,
 * checkPolicyTexts, checkVault) must find it, name its key and write nothing; then what signs (DeviceLog.attach with
 * the device key: reconcile and checkpoint) and what proves (buildBundle) either refuse with a stable code or give
 * a checkpoint identical to the undamaged one and a bundle that verifies. Also: rebuildLog (verify --repair) puts the
 * log back as it was, and refuses to drop an event the document lost; a stored checkpoint is never written over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { identitySigner, loadIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import type { StorageAdapter, StorageKey } from '../../../src/lib/core/storage.ts';
import { fromUtf8, utf8 } from '../../../src/lib/core/bytes.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { assertLogMatches, checkStoredLog, matchLog, rebuildLog } from '../../../src/lib/core/proofs/log-check.ts';
import { isProofError } from '../../../src/lib/core/proofs/errors.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { parseNote } from '../../../src/lib/core/merkle/note.ts';
import {
  checkPolicyTexts,
  checkTimestamps,
  checkVault,
  storedCheckpointText
} from '../../../src/lib/core/stored-check.ts';
import { TimestampStore } from '../../../src/lib/core/timestamp/store.ts';
import { PromptVault } from '../../../src/lib/core/vault.ts';
import { isLedgerError } from '../../../src/lib/core/errors.ts';
import { startTestTsa, type TestTsa } from '../../helpers/tsa.ts';
import { tempDir } from '../cli/helpers.ts';
import { buildDamageLedger, damageBytes, OPS, type DamageLedger, type DamageOp } from '../helpers/damage.ts';

let work: string;
let cleanup: () => Promise<void>;
let tsa: TestTsa;
let fx: DamageLedger;
/** Every storage value of the undamaged ledger directory. */
let pristine: Map<string, Uint8Array>;
/** The undamaged checkpoint texts by size: what any checkpoint signed afterwards must equal. */
let truth: Map<number, string>;
let signer: Signer;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir('pl-damage-core-'));
  tsa = await startTestTsa();
  fx = await buildDamageLedger(path.join(work, 'fixture'), tsa.url);
  const fs = await FsStorage.open(fx.dir);
  pristine = new Map((await fs.loadRange([])).map((c) => [c.key.join('/'), c.data]));
  signer = identitySigner((await loadIdentity(fs))!);
  truth = new Map();
  for (const [k, v] of pristine)
    if (k.startsWith('log/checkpoints/')) truth.set(Number(k.split('/')[2]), parseNote(fromUtf8(v)).text);
});
afterAll(async () => {
  await tsa?.close();
  await cleanup?.();
});

/** A fresh copy of the undamaged storage, counting writes. */
async function copy(): Promise<{ storage: StorageAdapter & { writes: string[] }; mem: MemoryStorage }> {
  const mem = new MemoryStorage();
  for (const [k, v] of pristine) await mem.save(k.split('/'), v);
  const writes: string[] = [];
  const storage = Object.assign(Object.create(null), {
    writes,
    load: (k: StorageKey) => mem.load(k),
    loadRange: (p: StorageKey) => mem.loadRange(p),
    listKeys: (p: StorageKey) => mem.listKeys(p),
    save: (k: StorageKey, d: Uint8Array) => (writes.push(k.join('/')), mem.save(k, d)),
    remove: (k: StorageKey) => (writes.push(`-${k.join('/')}`), mem.remove(k)),
    removeRange: (p: StorageKey) => (writes.push(`-${p.join('/')}/`), mem.removeRange(p)),
    saveMany: async (w: Array<{ key: StorageKey; data: Uint8Array }>, r: StorageKey[] = []) => {
      for (const x of w) writes.push(x.key.join('/'));
      for (const x of r) writes.push(`-${x.join('/')}`);
      await mem.saveMany(w, r);
    }
  });
  return { storage, mem };
}

async function hurt(storage: StorageAdapter, key: string, op: DamageOp): Promise<void> {
  const k = key.split('/');
  if (op === 'delete') return storage.remove(k);
  await storage.save(k, damageBytes((await storage.load(k))!, op));
}

/** The core's checks, read-only: every problem's code and location. */
async function coreCheck(storage: StorageAdapter): Promise<Array<{ code: string; location: string }>> {
  const out: Array<{ code: string; location: string }> = [];
  const doc = await Ledger.verifyStorage(storage);
  out.push(...doc.problems.map((p) => ({ code: p.code, location: p.location ?? '' })));
  let ledger: Ledger;
  try {
    ledger = await Ledger.open({ storage, allowProblems: true, compactOnLoad: false });
  } catch (e) {
    out.push({ code: (e as { code: string }).code, location: 'doc' });
    return out;
  }
  const log = await checkStoredLog(storage, ledger, signer.publicKey);
  const bad = new Set(log.problems.map((p) => p.location));
  const stamps = await checkTimestamps(storage, async (n) =>
    bad.has(`log/checkpoints/${String(n).padStart(16, '0')}`) ? undefined : storedCheckpointText(storage, n)
  );
  for (const r of [
    log,
    stamps,
    await checkPolicyTexts(storage, ledger, signer.publicKey),
    await checkVault(storage, ledger, signer.publicKey)
  ])
    out.push(...r.problems);
  return out;
}

/** The files of each class as storage keys (the Git journal and the identity file are the CLI test's). */
const CLASSES = [
  'document chunk',
  'log leaves',
  'log state',
  'checkpoint',
  'time-stamp file',
  'time-stamp record',
  'policy text',
  'vault file'
] as const;
const keyOfClass = (c: (typeof CLASSES)[number]) =>
  c === 'time-stamp record' ? 'log/timestamps-held' : fx.targets[c].replace(/\+$/, '');

interface Row {
  file: string;
  op: DamageOp;
  detected: boolean;
  located: boolean;
  writesByCheck: number;
  sign: string;
  prove: string;
  signedFromDamage: number;
}
const rows: Row[] = [];

/** What signs and proves after the damage: refused with a stable code, or the same checkpoint as before. */
async function followOn(storage: StorageAdapter, row: Row): Promise<void> {
  let ledger: Ledger;
  try {
    ledger = await Ledger.open({ storage, signer });
  } catch (e) {
    expect(isLedgerError(e), String(e)).toBe(true);
    row.sign = row.prove = `refused ${(e as { code: string }).code}`;
    return;
  }
  let log: DeviceLog;
  try {
    log = await DeviceLog.attach(ledger, storage, { signer });
  } catch (e) {
    expect(isProofError(e) || isLedgerError(e), String(e)).toBe(true);
    row.sign = row.prove = `refused ${(e as { code: string }).code}`;
    return;
  }
  const note = await log.checkpoint(ledger.id, signer).catch((e) => e as Error);
  if (note instanceof Error) {
    expect((note as { code?: string }).code, note.message).toMatch(/^[A-Z_]+$/);
    row.sign = `refused ${(note as { code?: string }).code}`;
  } else {
    const text = parseNote(note).text;
    const size = Number(text.split('\n')[1]);
    if (truth.get(size) !== text) row.signedFromDamage++;
    row.sign = 'signed the undamaged checkpoint';
  }
  // Every checkpoint stored now is one of the undamaged ones, or the damaged file left as it was.
  for (const k of await storage.listKeys(['log', 'checkpoints'])) {
    const text = await storedCheckpointText(storage, Number(k[2]));
    if (text !== undefined && text !== truth.get(Number(k[2])) && k.join('/') !== row.file) row.signedFromDamage++;
  }
  try {
    const { bytes, bundle } = await buildBundle({
      ledger,
      log,
      logPublicKey: signer.publicKey,
      subject: { event: fx.generationId },
      allowUnwitnessed: true,
      timestamps: new TimestampStore(storage)
    });
    const res = await verifyBundle(bytes, [], { tsaRoots: [tsa.rootDer] });
    expect(res.ok, JSON.stringify(res.failures)).toBe(true);
    if (truth.get(Number(parseNote(bundle.checkpoint).text.split('\n')[1])) !== parseNote(bundle.checkpoint).text)
      row.signedFromDamage++;
    row.prove = 'bundle verifies';
  } catch (e) {
    expect((e as { code?: string }).code, String(e)).toMatch(/^[A-Z_]+$/);
    row.prove = `refused ${(e as { code: string }).code}`;
  }
  log.detach();
}

describe('damage to one stored file at a time, through the core', () => {
  for (const cls of CLASSES) {
    for (const op of OPS) {
      it(`${cls} × ${op}: found, named, nothing written by the check; nothing signed from it`, async () => {
        const { storage } = await copy();
        const key = keyOfClass(cls);
        expect(await storage.load(key.split('/')), key).toBeDefined();
        await hurt(storage, key, op);
        storage.writes.length = 0;
        const problems = await coreCheck(storage);
        const row: Row = {
          file: key,
          op,
          detected: problems.length > 0,
          located: false,
          writesByCheck: storage.writes.length,
          sign: '',
          prove: '',
          signedFromDamage: 0
        };
        // A chunk of the document that is gone cannot be named by its hash: the event it held is named instead.
        const lostEvent = cls === 'document chunk' && op === 'delete';
        row.located = problems.some(
          (p) =>
            p.location.includes(key) ||
            (key === 'log/timestamps-held' && p.location === key) ||
            (lostEvent && /log\/leaves/.test(p.location))
        );
        rows.push(row);
        expect(problems, `${key} ${op}`).not.toEqual([]);
        expect(row.located, JSON.stringify(problems)).toBe(true);
        expect(storage.writes).toEqual([]);
        await followOn(storage, row);
        expect(row.signedFromDamage).toBe(0);
      });
    }
  }

  it('tally: every damaged file found and named, none written by a check, nothing signed from damage', () => {
    const n = CLASSES.length * OPS.length;
    expect(rows.length).toBe(n);
    const detected = rows.filter((r) => r.detected).length;
    const located = rows.filter((r) => r.located).length;
    const signed = rows.reduce((a, r) => a + r.signedFromDamage, 0);
    console.log(
      `damage campaign (core): ${n} cases, detected ${detected} (${((100 * detected) / n).toFixed(0)}%), named ${located}, signed from damage ${signed}`
    );
    for (const r of rows)
      console.log(`  ${r.file.padEnd(58)} ${r.op.padEnd(8)} sign: ${r.sign.padEnd(34)} prove: ${r.prove}`);
    expect(detected).toBe(n);
    expect(located).toBe(n);
    expect(signed).toBe(0);
    expect(rows.every((r) => r.writesByCheck === 0)).toBe(true);
  });
});

describe('rebuilding the device log (verify --repair)', () => {
  for (const [key, op] of [
    ['log/leaves/00000000', 'flip'],
    ['log/leaves/00000000', 'truncate'],
    ['log/leaves/00000000', 'delete'],
    ['log/state', 'flip'],
    ['log/state', 'delete']
  ] as const) {
    it(`after ${key} × ${op}: the log is the ledger's again, in its old order, and every checkpoint still verifies`, async () => {
      const { storage } = await copy();
      await hurt(storage, key, op);
      const ledger = await Ledger.open({ storage });
      expect((await checkStoredLog(storage, ledger, signer.publicKey)).problems).not.toEqual([]);
      const r = await rebuildLog(storage, ledger, { signer, stamp: 'test' });
      expect(r.rewritten).toBe(true);
      expect(r.leaves).toBe(ledger.size);
      expect(r.setAside).toEqual([]);
      expect(r.signed).toEqual([]);
      expect(r.keptAt).toBe('log/damaged/test');
      const after = await checkStoredLog(storage, ledger, signer.publicKey);
      expect(after.problems).toEqual([]);
      expect(after.lacking).toBe(0);
      // The damaged files are kept aside; the checkpoints were not touched.
      if (op !== 'delete')
        expect(await storage.load(['log', 'damaged', 'test', ...key.split('/').slice(1)])).toBeDefined();
      for (const [size, text] of truth) expect(await storedCheckpointText(storage, size)).toBe(text);
    });
  }

  it('a damaged checkpoint is kept aside and signed again with the same text: the time-stamp token over it still holds', async () => {
    const { storage } = await copy();
    const key = fx.targets.checkpoint.replace(/\+$/, '');
    await hurt(storage, key, 'flip');
    const ledger = await Ledger.open({ storage });
    const r = await rebuildLog(storage, ledger, { signer, stamp: 't2' });
    expect(r.rewritten).toBe(false);
    expect(r.setAside).toEqual([fx.headSize]);
    expect(r.signed).toEqual([fx.headSize]);
    expect(await storedCheckpointText(storage, fx.headSize)).toBe(truth.get(fx.headSize));
    expect(await storage.load(['log', 'damaged', 't2', 'checkpoints', key.split('/')[2]])).toEqual(
      damageBytes(pristine.get(key)!, 'flip')
    );
    const stamps = await checkTimestamps(storage, (n) => storedCheckpointText(storage, n));
    expect(stamps.problems).toEqual([]);
    expect((await checkStoredLog(storage, ledger, signer.publicKey)).problems).toEqual([]);
  });

  it('refuses, changing nothing, while the log holds an event the document lost (the newest chunk gone)', async () => {
    const { storage, mem } = await copy();
    await storage.remove(fx.targets['document chunk'].replace(/\+$/, '').split('/'));
    const before = new Map((await mem.loadRange([])).map((c) => [c.key.join('/'), c.data]));
    const ledger = await Ledger.open({ storage });
    expect(ledger.size).toBe((await Ledger.open({ storage: (await copy()).storage })).size - 1);
    const err = await rebuildLog(storage, ledger, { signer, stamp: 'x' }).catch((e) => e);
    expect(isProofError(err, 'LOG_MISMATCH'), String(err)).toBe(true);
    expect(err.message).toMatch(/the document may have lost them/);
    expect(new Map((await mem.loadRange([])).map((c) => [c.key.join('/'), c.data]))).toEqual(before);
    // And nothing signs over it: attaching refuses.
    const attached = await DeviceLog.attach(ledger, storage, { signer }).catch((e) => e);
    expect(isProofError(attached, 'LOG_MISMATCH')).toBe(true);
  });
});

describe('the log against the ledger', () => {
  it('a log behind the ledger is no problem (the events it lacks are counted); a flipped state is', async () => {
    const { storage } = await copy();
    const ledger = await Ledger.open({ storage });
    const log = await DeviceLog.load(storage);
    expect(matchLog(log, ledger)).toEqual({ problems: [], lacking: 0 });
    // Behind: a ledger with one event more than the log.
    const w = await Ledger.open({ storage, signer });
    await w.append('checklist', {
      project: 'Later',
      classification: 'public',
      policySnapshots: [],
      items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
    });
    await w.flushed();
    const again = await Ledger.open({ storage });
    expect(matchLog(await DeviceLog.load(storage), again)).toEqual({ problems: [], lacking: 1 });
    await hurt(storage, 'log/state', 'flip');
    const err = await DeviceLog.load(storage)
      .then((l) => assertLogMatches(l, again))
      .then(
        () => undefined,
        (e) => e
      );
    expect(isProofError(err), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/verify --repair/);
  });

  it('a flipped log/state never makes a checkpoint over a wrong root, and the good checkpoint stays as it was', async () => {
    const { storage } = await copy();
    const head = ['log', 'checkpoints', String(fx.headSize).padStart(16, '0')];
    const good = await storage.load(head);
    await hurt(storage, 'log/state', 'flip');
    const ledger = await Ledger.open({ storage, signer });
    const err = await DeviceLog.attach(ledger, storage, { signer }).catch((e) => e);
    expect(isProofError(err), String(err)).toBe(true);
    expect(err.code).toMatch(/^LOG_(CORRUPT|MISMATCH)$/);
    expect(await storage.load(head)).toEqual(good);
  });

  it('a stored checkpoint over another root is never written over (CHECKPOINT_INVALID), a damaged one neither', async () => {
    const { storage } = await copy();
    const ledger = await Ledger.open({ storage, signer });
    const log = await DeviceLog.attach(ledger, storage, { signer });
    const head = ['log', 'checkpoints', String(fx.headSize).padStart(16, '0')];
    // Another size's note stored under the head's name: a valid signature over another root.
    const other = await storage.load(['log', 'checkpoints', String(fx.headSize - 1).padStart(16, '0')]);
    const swapped = utf8(fromUtf8(other!).replace(`\n${fx.headSize - 1}\n`, `\n${fx.headSize}\n`));
    await storage.save(head, swapped);
    const err = await log.checkpoint(ledger.id, signer).catch((e) => e);
    expect(isProofError(err, 'CHECKPOINT_INVALID'), String(err)).toBe(true);
    expect(await storage.load(head)).toEqual(swapped);
    await storage.save(head, damageBytes(pristine.get(head.join('/'))!, 'truncate'));
    expect(isProofError(await log.checkpoint(ledger.id, signer).catch((e) => e), 'CHECKPOINT_INVALID')).toBe(true);
    log.detach();
  });
});

describe('the prompt vault and the time-stamp record', () => {
  it('an opening whose commitment field was changed is not given out (VAULT_CORRUPT), nor a truncated one', async () => {
    const { storage } = await copy();
    const [key] = await storage.listKeys(['vault']);
    const json = JSON.parse(fromUtf8((await storage.load(key))!));
    await storage.save(
      key,
      utf8(
        JSON.stringify({ ...json, commitment: json.commitment.replace(/^./, (c: string) => (c === '0' ? '1' : '0')) })
      )
    );
    const vault = new PromptVault(storage);
    const e1 = await vault.get(key[1]).catch((e) => e);
    expect(isLedgerError(e1) && e1.code).toBe('VAULT_CORRUPT');
    await storage.save(key, damageBytes(pristine.get(key.join('/'))!, 'truncate'));
    const e2 = await vault.get(key[1]).catch((e) => e);
    expect(isLedgerError(e2) && e2.code).toBe('VAULT_CORRUPT');
    expect(e2.message).toContain(key.join('/'));
  });

  it('log/timestamps-held records each stored token, so a token file removed is named', async () => {
    const { storage } = await copy();
    const store = new TimestampStore(storage);
    expect(await store.held()).toEqual(new Map([[fx.headSize, [new URL(tsa.url).href]]]));
    expect(await store.unrecorded()).toEqual([]);
    expect(await store.missing()).toEqual([]);
    await storage.remove(['log', 'timestamps', String(fx.headSize).padStart(16, '0')]);
    expect(await store.missing()).toEqual([{ size: fx.headSize, tsa: new URL(tsa.url).href }]);
  });
});
