/**
 * The read index (src/cli/read-index.ts, ledger-schema/README.md section 12): log, show and trace answer from
 * DIR/cache/read-index exactly as from a full load of the document; a change made by another process is seen at
 * once; a tampered, torn, stale or foreign index is not trusted; a damaged document fails as it did without one.
 * Real CLI processes throughout. PROVENANCE_LEDGER_READ_INDEX=report makes each say whether the index answered;
 * =off gives the full load's answer to compare with.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTree, run, tempDir, type RunResult } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;
let L: string;
const INDEX = () => path.join(L, 'cache', 'read-index+');
const f = (name: string) => path.join(work, 'files', name);
const ids: Record<string, string> = {};

const report = { PROVENANCE_LEDGER_READ_INDEX: 'report' };
const off = { PROVENANCE_LEDGER_READ_INDEX: 'off' };
const pl = (args: string[], env: Record<string, string> = report, dir = L) =>
  run([...args, '--ledger', dir], { cwd: work, env });

/** The read commands under test, text and --json. */
const reads = () => [
  ['log'],
  ['log', '--json'],
  ['log', '--type', 'generation', '--json'],
  ['log', '--project', 'Robots'],
  ['show', ids.generation.slice(0, 10)],
  ['show', ids.derivation, '--json'],
  ['trace', f('robot.glb')],
  ['trace', f('robot-fixed.glb'), '--json'],
  ['trace', f('unknown.glb'), '--json']
];

/** Each read command's answer from a full load (the index switched off). */
async function fullLoadAnswers(dir = L): Promise<RunResult[]> {
  const out: RunResult[] = [];
  for (const args of reads()) out.push(await pl(args, off, dir));
  return out;
}

function expectSame(got: RunResult, want: RunResult, what: string): void {
  expect(got.code, `${what}: ${got.stderr}`).toBe(want.code);
  expect(got.stdout, what).toBe(want.stdout);
}

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir('pl-read-index-'));
  L = path.join(work, 'ledger');
  await mkdir(path.join(work, 'files'));
  await writeFile(f('robot.glb'), 'glTF robot\n');
  await writeFile(f('robot-fixed.glb'), 'glTF robot, fixed\n');
  await writeFile(f('unknown.glb'), 'never recorded\n');
  expect((await pl(['init', '--name', 'Ada'])).code).toBe(0);
  const c = await pl([
    'record',
    'checklist',
    '--project',
    'Robots',
    '--classification',
    'client',
    '--classified',
    '--json'
  ]);
  expect(c.code, c.stderr).toBe(0);
  ids.checklist = c.json().event.id;
  const g = await pl([
    'record',
    'generation',
    '--platform',
    'Tripo',
    '--prompt',
    'a robot',
    '--output',
    f('robot.glb'),
    '--checklist',
    ids.checklist,
    '--json'
  ]);
  expect(g.code, g.stderr).toBe(0);
  ids.generation = g.json().event.id;
  const d = await pl([
    'record',
    'derivation',
    '--from',
    f('robot.glb'),
    '--output',
    f('robot-fixed.glb'),
    '--tool',
    'Blender',
    '--operation',
    'retopology',
    '--json'
  ]);
  expect(d.code, d.stderr).toBe(0);
  ids.derivation = d.json().event.id;
});

afterAll(() => cleanup());

describe('the read index', () => {
  it('is written by the commands that changed the document; log, show and trace answer from it exactly as from a full load, and write nothing', async () => {
    await stat(INDEX());
    const want = await fullLoadAnswers();
    const before = await hashTree(L);
    for (const [i, args] of reads().entries()) {
      const got = await pl(args);
      expect(got.stderr, args.join(' ')).toContain('read index: used (4 events)');
      expectSame(got, want[i], args.join(' '));
    }
    expect(await hashTree(L)).toBe(before);
    // The answers are the ledger's: the three recorded events, oldest first, after the genesis.
    const log = JSON.parse(want[1].stdout);
    expect(log.events.map((e: { id: string }) => e.id).slice(1)).toEqual([
      ids.checklist,
      ids.generation,
      ids.derivation
    ]);
    expect(JSON.parse(want[7].stdout).events.map((e: { id: string }) => e.id)).toEqual([
      ids.checklist,
      ids.generation,
      ids.derivation
    ]);
  });

  it('a command that changes nothing, or fails, leaves the index as it was', async () => {
    const before = await readFile(INDEX());
    expect((await pl(['record', 'checklist', '--project', 'Robots', '--classification', 'secret'])).code).toBe(2);
    expect((await pl(['verify'])).code).toBe(0);
    expect(await readFile(INDEX())).toEqual(before);
  });

  it('an event recorded by another process is seen at once: the index it left, or a stale one, never hides it', async () => {
    const old = await readFile(INDEX());
    await writeFile(f('box.glb'), 'glTF box\n');
    const g = await pl([
      'record',
      'generation',
      '--platform',
      'Meshy',
      '--prompt',
      'a box',
      '--output',
      f('box.glb'),
      '--project',
      'Robots',
      '--classification',
      'client',
      '--json'
    ]);
    expect(g.code, g.stderr).toBe(0);
    const id = g.json().event.id;
    const fresh = await pl(['log', '--json']);
    expect(fresh.stderr).toContain('read index: used (5 events)');
    expect(fresh.json().events.map((e: { id: string }) => e.id)).toContain(id);

    // The index of before that event, put back (it authenticates: this device wrote it): the document's chunks
    // are not the ones it names, so it is not used, and the answer holds the new event.
    const current = await readFile(INDEX());
    await writeFile(INDEX(), old);
    const want = await fullLoadAnswers();
    for (const [i, args] of reads().entries()) {
      const got = await pl(args);
      expect(got.stderr, args.join(' ')).toContain('read index: not used: the document changed since it was written');
      expectSame(got, want[i], args.join(' '));
    }
    expect((await pl(['show', id])).code).toBe(0);
    expect((await pl(['show', id])).stderr).toContain('not used');
    await writeFile(INDEX(), current);
    expect((await pl(['show', id])).stderr).toContain('read index: used');
  });

  it('a tampered index is not trusted: an event it adds or changes is never printed', async () => {
    const good = await readFile(INDEX());
    const want = await fullLoadAnswers();
    const text = good.toString('utf8');
    const nl = text.indexOf('\n');
    const body = JSON.parse(text.slice(nl + 1));
    // 1. A changed body under the old MAC: the project renamed in every event.
    const renamed = text.slice(0, nl + 1) + text.slice(nl + 1).replaceAll('"Robots"', '"Secret"');
    // 2. An event added (a copy of the generation under another id), the MAC made with a key that is not this device's.
    const fake = structuredClone(body);
    fake.ids.push('f'.repeat(64));
    fake.envelopes.push(fake.envelopes[2]);
    const fakeBody = JSON.stringify(fake);
    const forged = `${createHmac('sha256', randomBytes(32)).update('provenance-ledger/read-index/v1\n').update(fakeBody).digest('hex')}\n${fakeBody}`;
    // 3. The same body with its MAC line dropped.
    const bare = text.slice(nl + 1);
    for (const [what, bytes] of [
      ['renamed', renamed],
      ['forged', forged],
      ['bare', bare]
    ] as const) {
      await writeFile(INDEX(), bytes);
      for (const [i, args] of reads().entries()) {
        const got = await pl(args);
        expect(got.stderr, `${what}: ${args.join(' ')}`).toContain('read index: not used: it does not authenticate');
        expectSame(got, want[i], `${what}: ${args.join(' ')}`);
        expect(got.stdout).not.toContain('Secret');
        expect(got.stdout).not.toContain('ffffffffffff');
      }
    }
    await writeFile(INDEX(), good);
  });

  it('a torn or emptied index is ignored and the answer is the full load', async () => {
    const good = await readFile(INDEX());
    const want = await fullLoadAnswers();
    for (const size of [good.length - 1, Math.floor(good.length / 2), 64, 0]) {
      await writeFile(INDEX(), good);
      await truncate(INDEX(), size);
      for (const [i, args] of reads().entries()) {
        const got = await pl(args);
        expect(got.stderr, `${size}: ${args.join(' ')}`).toMatch(
          /read index: not used: (it does not authenticate|it is not JSON)/
        );
        expectSame(got, want[i], `${size} bytes: ${args.join(' ')}`);
      }
    }
    await writeFile(INDEX(), good);
    // The next command that changes the document writes a sound one again.
    await rm(INDEX());
    expect((await pl(['log'])).stderr).toContain('read index: not used: there is none');
    expect((await pl(['compact'])).code).toBe(0);
    expect((await pl(['log'])).stderr).toContain('read index: used');
  });

  it('a damaged document fails as it does without the index (same exit code and error), and the index is not used', async () => {
    const copy = path.join(work, 'damaged');
    await cp(L, copy, { recursive: true });
    expect((await pl(['log'], report, copy)).stderr).toContain('read index: used');
    const snap = path.join(copy, 'doc', 'snapshot');
    const [chunk] = await readdir(snap);
    const bytes = await readFile(path.join(snap, chunk));
    bytes[bytes.length >> 1] ^= 0x01;
    await writeFile(path.join(snap, chunk), bytes);
    for (const args of [
      ['log', '--json'],
      ['show', ids.generation, '--json'],
      ['trace', f('robot.glb'), '--json']
    ]) {
      const without = await pl(args, off, copy);
      const got = await pl(args, report, copy);
      expect(without.code).toBe(2);
      expect(got.code).toBe(2);
      expect(got.stderr).toContain('does not hash to its name');
      expect(got.stdout).toBe('');
      const err = JSON.parse(got.stderr.slice(got.stderr.indexOf('{')));
      expect(err.error.code).toBe('STORAGE_CORRUPT');
      expect(err).toEqual(without.errorJson());
    }
  });

  it('a file the document store does not expect (doc+, doc/incr/<not a hash>+, a symbolic link) fails as without the index', async () => {
    const copy = path.join(work, 'unexpected');
    await cp(L, copy, { recursive: true });
    const [chunk] = await readdir(path.join(copy, 'doc', 'snapshot'));
    const cases: Array<[string, () => Promise<void>, () => Promise<void>]> = [
      ['doc+', () => writeFile(path.join(copy, 'doc+'), 'x'), () => rm(path.join(copy, 'doc+'))],
      [
        'doc/incr/notes+',
        async () => {
          await mkdir(path.join(copy, 'doc', 'incr'), { recursive: true });
          await writeFile(path.join(copy, 'doc', 'incr', 'notes+'), 'x');
        },
        () => rm(path.join(copy, 'doc', 'incr'), { recursive: true })
      ],
      [
        'a chunk replaced by a symbolic link to itself elsewhere',
        async () => {
          await rename(path.join(copy, 'doc', 'snapshot', chunk), path.join(work, 'moved-chunk'));
          await symlink(path.join(work, 'moved-chunk'), path.join(copy, 'doc', 'snapshot', chunk));
        },
        async () => {
          await rm(path.join(copy, 'doc', 'snapshot', chunk));
          await rename(path.join(work, 'moved-chunk'), path.join(copy, 'doc', 'snapshot', chunk));
        }
      ]
    ];
    expect((await pl(['log'], report, copy)).stderr).toContain('read index: used');
    for (const [what, make, undo] of cases) {
      await make();
      const without = await pl(['log', '--json'], off, copy);
      const got = await pl(['log', '--json'], report, copy);
      expect(got.stderr, what).toContain('read index: not used');
      expect(got.code, what).toBe(without.code);
      expect(got.code, what).not.toBe(0);
      expect(got.stdout, what).toBe('');
      await undo();
      expect((await pl(['log'], report, copy)).stderr, `${what}, undone`).toContain('read index: used');
    }
  });

  it('a directory without a device key has no index: a full load answers', async () => {
    const copy = path.join(work, 'keyless');
    await cp(L, copy, { recursive: true });
    await rm(path.join(copy, 'identity'), { recursive: true });
    const got = await pl(['log', '--json'], report, copy);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stderr).toContain('read index: not used: no readable device key');
    expect(got.stdout).toBe((await pl(['log', '--json'], off)).stdout);
  });
});

describe('the bin, called from another directory', () => {
  it("resolves --ledger and file arguments from the caller's directory", async () => {
    const elsewhere = path.join(work, 'elsewhere', 'deeper');
    await mkdir(elsewhere, { recursive: true });
    await writeFile(path.join(elsewhere, 'local.glb'), 'glTF made here\n');
    const here = (args: string[]) => run(args, { cwd: elsewhere, env: report });
    const rel = path.relative(elsewhere, L);
    expect(rel.startsWith('..')).toBe(true);
    const rec = await here([
      'record',
      'generation',
      '--platform',
      'Tripo',
      '--prompt',
      'local',
      '--output',
      './local.glb',
      '--project',
      'Robots',
      '--classification',
      'client',
      '--ledger',
      rel,
      '--json'
    ]);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.json().event.body.outputs[0].name).toBe('local.glb');
    const t = await here(['trace', 'local.glb', '--ledger', rel, '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toContain('read index: used');
    expect(t.json().file.path).toBe(path.join(elsewhere, 'local.glb'));
    expect(t.json().events.map((e: { id: string }) => e.id)).toEqual([rec.json().event.id]);
    const up = await here(['trace', '../../files/robot.glb', '--ledger', rel, '--json']);
    expect(up.json().events.map((e: { id: string }) => e.id)).toContain(ids.generation);
    // The same ledger named by the environment, relative too.
    const env = await run(['log', '--json'], { cwd: elsewhere, env: { PROVENANCE_LEDGER_DIR: rel } });
    expect(env.code, env.stderr).toBe(0);
    expect(env.json().events.map((e: { id: string }) => e.id)).toContain(rec.json().event.id);
  });

  it('answers the same from its prebuilt JavaScript as from the TypeScript sources', async () => {
    for (const args of reads()) {
      const built = await pl(args, off);
      const sources = await run([...args, '--ledger', L], {
        cwd: work,
        env: { ...off, PROVENANCE_LEDGER_PREBUILT: 'off' }
      });
      expectSame(sources, built, args.join(' '));
    }
    const help = await run(['--help']);
    expect((await run(['--help'], { env: { PROVENANCE_LEDGER_PREBUILT: 'off' } })).stdout).toBe(help.stdout);
    expect(help.stdout).toContain('verify-bundle');
  });
});
