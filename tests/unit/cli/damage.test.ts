/**
 * The damage campaign through the CLI: a ledger directory with an event of every type, a time-stamped checkpoint,
 * policy texts and a prompt opening; for every class of file it keeps (document chunk, journal object and ref,
 * log leaves and state, checkpoint, time-stamp file, policy text, vault file, identity) × (flip a byte, truncate,
 * delete), on a fresh copy: `verify` exits 1 naming the file (or, for a content-named chunk that is gone, the event
 * it held) and changes no byte of the directory; then `checkpoint` and `prove` either refuse with a stable code
 * (exit 2, no stack trace) or succeed with a checkpoint identical to the undamaged one and a bundle that
 * verify-bundle accepts. The commands run in this process (main() with captured output: the same code as the
 * binary); a few follow-ons the issue names run as real processes: reveal and prove --reveal-prompt on a damaged
 * vault file, record / checkpoint / push with journal.git/objects gone, record policy over a tampered text, push
 * over a log that does not match, and verify --repair.
 */
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNote } from '../../../src/lib/core/merkle/note.ts';
import { startTestTsa, type TestTsa } from '../../helpers/tsa.ts';
import { buildDamageLedger, damage, keyOf, OPS, pl, type DamageLedger, type DamageOp } from '../helpers/damage.ts';
import { hashTree, run, tempDir } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;
let tsa: TestTsa;
let fx: DamageLedger;
/** The undamaged checkpoint texts by size, and files. */
let truth: Map<number, string>;
let checkpointFiles: Map<string, Buffer>;
/** The id of the newest event (held by the newest document chunk). */
let newestEvent: string;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir('pl-damage-cli-'));
  tsa = await startTestTsa();
  fx = await buildDamageLedger(path.join(work, 'fixture'), tsa.url);
  truth = new Map();
  checkpointFiles = new Map();
  const cps = path.join(fx.dir, 'log', 'checkpoints');
  for (const n of await readdir(cps)) {
    const b = await readFile(path.join(cps, n));
    checkpointFiles.set(n, b);
    truth.set(Number(n.slice(0, 16)), parseNote(b.toString('utf8')).text);
  }
  const log = await pl('log', '--ledger', fx.dir, '--json');
  newestEvent = (log.json().events as Array<{ id: string }>).at(-1)!.id;
});
afterAll(async () => {
  await tsa?.close();
  await cleanup?.();
});

const CLASSES = [
  'document chunk',
  'journal object',
  'journal ref',
  'log leaves',
  'log state',
  'checkpoint',
  'time-stamp file',
  'policy text',
  'vault file',
  'identity'
] as const;

interface Row {
  cls: string;
  op: DamageOp;
  detected: boolean;
  named: boolean;
  unchanged: boolean;
  checkpoint: string;
  prove: string;
  signedFromDamage: number;
}
const rows: Row[] = [];
let n = 0;

/** A fresh copy of the undamaged ledger directory. */
async function fresh(): Promise<string> {
  const dir = path.join(work, `case-${++n}`);
  await cp(fx.dir, dir, { recursive: true });
  return dir;
}

/** A refusal: exit 2, one line `error [CODE]: ...` (with --json: {"error": {"code", "message"}}), no stack trace. */
function refusal(r: { code: number | null; stderr: string }): string {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/\n\s+at |\\n\s+at /);
  if (r.stderr.startsWith('{')) {
    const { error } = JSON.parse(r.stderr);
    expect(error.code).toMatch(/^[A-Z_]+$/);
    return `refused ${error.code}`;
  }
  expect(r.stderr).toMatch(/^error \[[A-Z_]+\]: /);
  return `refused ${r.stderr.match(/^error \[([A-Z_]+)\]/)![1]}`;
}

/** Does any problem name the damaged file (or, for a content-named chunk that is gone, the event it held)? */
function names(
  cls: string,
  rel: string,
  problems: Array<{ code: string; location?: string; message: string; eventId?: string }>
): boolean {
  const key = keyOf(rel);
  return problems.some((p) => {
    const where = p.location ?? '';
    if (cls === 'journal object') return where.includes(key.split('/').slice(-2).join(''));
    if (cls === 'document chunk' && where === 'doc') return true;
    if (
      cls === 'document chunk' &&
      (p.eventId === newestEvent || where.includes(newestEvent) || p.message.includes(newestEvent))
    )
      return true;
    return where.includes(key);
  });
}

describe('damage to one file at a time: verify finds and names it, writes nothing; nothing is signed from it', () => {
  for (const cls of CLASSES) {
    for (const op of OPS) {
      it(`${cls} × ${op}`, async () => {
        const dir = await fresh();
        const rel = fx.targets[cls];
        await damage(path.join(dir, rel), op);
        const before = await hashTree(dir);
        const v = await pl('verify', '--ledger', dir, '--json');
        const row: Row = {
          cls,
          op,
          detected: v.code === 1,
          named: false,
          unchanged: (await hashTree(dir)) === before,
          checkpoint: '',
          prove: '',
          signedFromDamage: 0
        };
        rows.push(row);
        expect(v.code, v.stdout + v.stderr).toBe(1);
        const report = v.json();
        expect(report.ok).toBe(false);
        row.named = names(cls, rel, report.problems);
        expect(row.named, JSON.stringify(report.problems, null, 1)).toBe(true);
        expect(row.unchanged).toBe(true);
        expect(report.advice?.length, 'verify says what to do').toBeGreaterThan(0);

        const c = await pl('checkpoint', '--ledger', dir, '--json');
        if (c.code === 0) {
          const text = parseNote(c.json().checkpoint).text;
          if (truth.get(Number(text.split('\n')[1])) !== text) row.signedFromDamage++;
          row.checkpoint = 'the undamaged checkpoint';
        } else row.checkpoint = refusal(c);
        const bundle = path.join(dir, '..', `bundle-${n}.json`);
        const p = await pl('prove', fx.model, '--ledger', dir, '--out', bundle, '--unwitnessed', '--force', '--json');
        if (p.code === 0) {
          const b = JSON.parse(await readFile(bundle, 'utf8'));
          const text = parseNote(b.checkpoint).text;
          if (truth.get(Number(text.split('\n')[1])) !== text) row.signedFromDamage++;
          const vb = await pl('verify-bundle', bundle, '--file', fx.model);
          expect(vb.code, vb.stdout).toBe(0);
          row.prove = 'a bundle that verifies';
        } else row.prove = refusal(p);
        // No checkpoint stored before was written over (the damaged file itself aside).
        for (const [name, bytes] of checkpointFiles) {
          if (`log/checkpoints/${name}` === rel) continue;
          const now = await readFile(path.join(dir, 'log', 'checkpoints', name)).catch(() => undefined);
          if (now && !now.equals(bytes)) row.signedFromDamage++;
        }
        expect(row.signedFromDamage).toBe(0);
        await rm(dir, { recursive: true, force: true });
      });
    }
  }

  it('tally: 100% detected and named, verify wrote nothing, 0 signed from damage', () => {
    const total = CLASSES.length * OPS.length;
    expect(rows.length).toBe(total);
    const count = (f: (r: Row) => boolean) => rows.filter(f).length;
    const signed = rows.reduce((a, r) => a + r.signedFromDamage, 0);
    console.log(
      `damage campaign (CLI): ${total} cases, detected ${count((r) => r.detected)} (${((100 * count((r) => r.detected)) / total).toFixed(0)}%), ` +
        `named ${count((r) => r.named)}, verify wrote nothing in ${count((r) => r.unchanged)}, signed from damage ${signed}`
    );
    for (const r of rows)
      console.log(`  ${r.cls.padEnd(16)} ${r.op.padEnd(8)} checkpoint: ${r.checkpoint.padEnd(30)} prove: ${r.prove}`);
    expect(count((r) => r.detected)).toBe(total);
    expect(count((r) => r.named)).toBe(total);
    expect(count((r) => r.unchanged)).toBe(total);
    expect(signed).toBe(0);
  });
});

describe('the follow-ons the issue names, as real processes', () => {
  it('a truncated or altered vault file: reveal and prove --reveal-prompt exit 2 with VAULT_CORRUPT, never "verified"', async () => {
    const dir = await fresh();
    const file = path.join(dir, fx.targets['vault file']);
    const original = await readFile(file, 'utf8');
    await damage(file, 'truncate');
    for (const r of [
      await run(['reveal', fx.generationId, '--ledger', dir, '--json']),
      await run([
        'prove',
        fx.model,
        '--ledger',
        dir,
        '--out',
        path.join(dir, '..', 'r.json'),
        '--reveal-prompt',
        '--unwitnessed'
      ])
    ]) {
      expect(refusal(r)).toBe('refused VAULT_CORRUPT');
      expect(r.stdout).not.toMatch(/"verified"/);
    }
    // Well-formed JSON naming another commitment than its file's: refused as well.
    const o = JSON.parse(original);
    await writeFile(
      file,
      JSON.stringify({ ...o, commitment: o.commitment.replace(/^./, (ch: string) => (ch === 'a' ? 'b' : 'a')) })
    );
    const r = await run(['reveal', fx.generationId, '--ledger', dir, '--json']);
    expect(refusal(r)).toBe('refused VAULT_CORRUPT');
    expect(r.stdout).toBe('');
    // The undamaged opening: revealed, with the commitment the event holds.
    await writeFile(file, original);
    const ok = await run(['reveal', fx.generationId, '--ledger', dir, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json()).toMatchObject({
      commitment: o.commitment,
      prompt: 'a small brass robot, low poly',
      verified: true
    });
  });

  it('journal.git/objects gone: record, checkpoint and push exit 2 with JOURNAL_CORRUPT; verify says journal repair, which mends it', async () => {
    const dir = await fresh();
    await rm(path.join(dir, 'journal.git', 'objects'), { recursive: true });
    const record = await run([
      'record',
      'checklist',
      '--ledger',
      dir,
      '--project',
      'Later',
      '--classification',
      'public'
    ]);
    const checkpoint = await run(['checkpoint', '--ledger', dir]);
    const push = await run(['push', 'http://127.0.0.1:9/nowhere.git', '--ledger', dir]);
    for (const r of [record, checkpoint, push]) expect(refusal(r)).toBe('refused JOURNAL_CORRUPT');
    expect(record.stderr).toMatch(/journal repair/);
    const v = await run(['verify', '--ledger', dir]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/what to do: .*journal repair/);
    expect((await run(['journal', 'repair', '--ledger', dir])).code).toBe(0);
    expect((await run(['verify', '--ledger', dir])).code).toBe(0);
    expect(
      (await run(['record', 'checklist', '--ledger', dir, '--project', 'Later', '--classification', 'public'])).code
    ).toBe(0);
  });

  it('a tampered stored policy text is not diffed: the next snapshot signs no change counts, and says why', async () => {
    const dir = await fresh();
    const v2 = path.join(fx.files, 'policy-v2.txt');
    const sha = (await import('node:crypto'))
      .createHash('sha256')
      .update(await readFile(v2))
      .digest('hex');
    const text = path.join(dir, 'texts', `${sha}+`);
    await writeFile(text, 'Tripo privacy policy\n\nEverything changed.\nEverything.\n');
    const v3 = path.join(dir, '..', 'policy-v3.txt');
    await writeFile(v3, 'Tripo privacy policy\n\n1. We keep your uploads for 90 days.\n2. We may train on them.\n');
    const r = await run([
      'record',
      'policy',
      '--ledger',
      dir,
      '--platform',
      'Tripo',
      '--kind',
      'privacy-policy',
      '--text-file',
      v3,
      '--json'
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`texts/${sha}.*damaged`));
    expect(r.json().event.body.changes).toBeUndefined();
    // The same over the undamaged text counts the change.
    const good = await fresh();
    const g = await run([
      'record',
      'policy',
      '--ledger',
      good,
      '--platform',
      'Tripo',
      '--kind',
      'privacy-policy',
      '--text-file',
      v3,
      '--json'
    ]);
    expect(g.json().event.body.changes).toMatchObject({ changedSections: 1 });
  });

  it('a flipped log/state: checkpoint and push refuse (LOG_CORRUPT), the good checkpoint stays; verify --repair mends the log', async () => {
    const dir = await fresh();
    await damage(path.join(dir, fx.targets['log state']), 'flip');
    const head = path.join(dir, fx.targets.checkpoint);
    const good = await readFile(head);
    const c = await run(['checkpoint', '--ledger', dir]);
    expect(refusal(c)).toMatch(/LOG_(CORRUPT|MISMATCH)/);
    expect(c.stderr).toMatch(/verify --repair/);
    expect(refusal(await run(['push', 'http://127.0.0.1:9/nowhere.git', '--ledger', dir]))).toMatch(
      /LOG_(CORRUPT|MISMATCH)/
    );
    expect(await readFile(head)).toEqual(good);
    const repair = await run(['verify', '--repair', '--ledger', dir, '--json']);
    expect(repair.code, repair.stdout).toBe(0);
    expect(repair.json().repaired.join('\n')).toMatch(/device log was written again/);
    const again = await run(['checkpoint', '--ledger', dir, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().checkpoint).toBe(good.toString('utf8'));
  });
});
