/**
 * Crash order, proven by killing at every file operation. A real CLI `record generation` (prompt opening, document
 * chunk, journal objects, commit-id cache, refs, device log leaves and state, checkpoint) and a real `checkpoint`
 * on a ledger whose journal and log must be written from scratch (repository, a pack and its index, refs, log) are
 * run once to count the file operations they make (tests/helpers/kill-at.mjs: file creations, writes (whole-file
 * writes also torn in half), fsyncs, renames, unlinks, mkdirs, rmdirs), then once per operation k, SIGKILLed at k. After each
 * kill, in a fresh copy of the ledger:
 *
 *  - `verify` exits 0 with no problem: the only things it may name are pending states, stated as such (an event
 *    whose journal commit the next write writes: JOURNAL_PENDING; the log's head whose checkpoint the next write
 *    signs: CHECKPOINT_PENDING);
 *  - the event is wholly recorded or wholly absent: verify counts the base events or one more; when recorded,
 *    `prove --reveal-prompt` proves it with its prompt opening (so its opening, journal commit and log leaf are
 *    there); when absent, no prompt opening of it survives the next write (an opening older than the sweep's
 *    grace is removed, core/vault.ts) and the log's checkpoint counts no leaf for it;
 *  - a following `record`, `checkpoint` and `prove --unwitnessed` succeed, the checkpoint covers exactly the
 *    events held, and `verify` is clean with nothing pending and no prompt opening without its event.
 *
 * And `clone` in batches of three events (PROVENANCE_LEDGER_CLONE_BATCH) from a real `git http-backend`, killed at
 * each of its operations: the directory left is nothing (no directory, or no ledger in it), or a clone cut short
 * that every command refuses with CLONE_UNFINISHED naming the clone to run again, or the finished clone (verify
 * clean, every event, nothing pending); `clone` run again into it finishes, and a pull then finds nothing new.
 *
 * And `recover`, rebuilding a document with a damaged chunk, killed at each of its operations: run again, it
 * finishes (verify clean, every event there) and the damaged chunk is still kept aside, byte for byte.
 *
 * Kill points run two at a time; every CLI call has a generous limit after which it is killed and the test fails.
 */
import { spawn } from 'node:child_process';
import { cp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, tempDir } from './helpers.ts';
import { startGitServer } from '../../helpers/git-http-server.ts';

const PRELOAD = fileURLToPath(new URL('../../helpers/kill-at.mjs', import.meta.url));
const PARALLEL = 2;
const CALL_LIMIT_MS = 120_000;

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in `cwd` (no PROVENANCE_LEDGER_* from the developer's shell); `kill`: the kill-at preload's settings. */
function cli(
  cwd: string,
  args: string[],
  kill?: { dir: string; at?: number; log?: string },
  extra: Record<string, string> = {}
): Promise<Ran> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('PROVENANCE_LEDGER_') && !k.startsWith('PL_TEST_') && k !== 'NODE_OPTIONS') env[k] = v;
  Object.assign(env, extra);
  if (kill) {
    env.NODE_OPTIONS = `--import=${PRELOAD}`;
    env.PL_TEST_FS_DIR = kill.dir;
    if (kill.at !== undefined) env.PL_TEST_KILL_AT = String(kill.at);
    if (kill.log) env.PL_TEST_FS_LOG = kill.log;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`provenance-ledger ${args.join(' ')} did not end within ${CALL_LIMIT_MS} ms`));
    }, CALL_LIMIT_MS);
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Fails with the command's output unless it exited 0; returns stdout parsed as JSON when `json`. */
async function ok(cwd: string, args: string[]): Promise<any> {
  const r = await cli(cwd, args);
  if (r.code !== 0)
    throw new Error(`provenance-ledger ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`);
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

/** verify --json, which must find no problem; returns the report. */
async function verifyClean(cwd: string, dir: string, opts: { pendingAllowed: boolean }): Promise<any> {
  const r = await cli(cwd, ['verify', '--ledger', dir, '--json']);
  const report = JSON.parse(r.stdout || '{}');
  const where = `verify after the kill:\n${r.stdout}${r.stderr}`;
  expect(r.code, where).toBe(0);
  expect(report.ok, where).toBe(true);
  expect(report.problems, where).toEqual([]);
  const pending = report.pending ?? [];
  if (opts.pendingAllowed)
    expect(
      pending.every((p: { code: string }) => ['JOURNAL_PENDING', 'CHECKPOINT_PENDING'].includes(p.code)),
      where
    ).toBe(true);
  else expect(pending, where).toEqual([]);
  return report;
}

/** Files directly in a folder (none when it is absent). */
async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('+'));
}

/** Makes every prompt opening older than the sweep's grace (ten minutes): the next write may sweep orphans. */
async function ageVault(dir: string): Promise<void> {
  const past = new Date(Date.now() - 3_600_000);
  for (const f of await filesIn(path.join(dir, 'vault'))) await utimes(path.join(dir, 'vault', f), past, past);
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]);
    })
  );
}

let root: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('pl-kill-'));
  for (const name of ['first', 'after']) await writeFile(path.join(root, `${name}.glb`), `${name} model\n`);
});
afterAll(async () => cleanup?.());

const gen = (dir: string, prompt: string, file: string) => [
  'record',
  'generation',
  '--ledger',
  dir,
  '--platform',
  'Tripo',
  '--mode',
  'text-to-3d',
  '--prompt',
  prompt,
  '--output',
  file,
  '--project',
  'Robot Client',
  '--classification',
  'client'
];

interface Scenario {
  /** Makes the base ledger in `dir` (under root); returns how many events and prompt openings it holds. */
  base: (dir: string) => Promise<{ events: number; openings: number }>;
  /** The command to kill, for kill point k (its files are written beforehand in `prepare`). */
  command: (dir: string, k: number) => string[];
  prepare?: (k: number) => Promise<void>;
  /** Whether the command appends a generation event with a prompt. */
  records: boolean;
  /** Run after the kill, before the checks (recover: run again, which must finish what the killed run began). */
  settle?: (dir: string) => Promise<void>;
  /** Further checks after the kill (and settle). */
  check?: (dir: string) => Promise<void>;
  /** Whether record, checkpoint and prove are run after the checks (default true). */
  goesOn?: boolean;
}

async function runScenario(name: string, s: Scenario): Promise<{ points: number; recorded: number }> {
  const base = path.join(root, `${name}-base`);
  const held = await s.base(base);
  // Count the file operations of a clean run.
  const counted = path.join(root, `${name}-count`);
  await cp(base, counted, { recursive: true });
  const log = path.join(root, `${name}-ops.txt`);
  await s.prepare?.(0);
  const clean = await cli(root, s.command(counted, 0), { dir: counted, log });
  expect(clean.code, clean.stderr).toBe(0);
  const ops = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  expect(ops.length).toBeGreaterThan(10);

  const failures: string[] = [];
  let recorded = 0;
  const points = ops.map((_, i) => i + 1);
  await pool(points, PARALLEL, async (k) => {
    const dir = path.join(root, `${name}-k${k}`);
    try {
      await cp(base, dir, { recursive: true });
      await s.prepare?.(k);
      const runLog = path.join(root, `${name}-k${k}-ops.txt`);
      const killed = await cli(root, s.command(dir, k), { dir, at: k, log: runLog });
      if (killed.signal !== 'SIGKILL') {
        // A run can make fewer operations than the counted one (a Git object whose fan-out folder already exists
        // needs no mkdir; object names depend on the event's time): it then finished before operation k, and is
        // checked below as a finished run.
        const made = (await readFile(runLog, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
        expect(killed.code, `the run not killed at operation ${k} must finish\n${killed.stderr}`).toBe(0);
        expect(made, `expected the kill at operation ${k}: the run made ${made} operations`).toBeLessThan(k);
      }
      await s.settle?.(dir);

      const after = await verifyClean(root, dir, { pendingAllowed: true });
      expect([held.events, held.events + (s.records ? 1 : 0)]).toContain(after.valid);
      const isRecorded = after.valid === held.events + 1;
      if (isRecorded) recorded++;
      await s.check?.(dir);
      if (s.goesOn === false) {
        await rm(dir, { recursive: true, force: true });
        return;
      }

      await ageVault(dir);
      await writeFile(path.join(root, `after-${name}-${k}.glb`), `after ${name} ${k}\n`);
      await ok(root, gen(dir, `after ${k}`, `after-${name}-${k}.glb`));
      const events = held.events + (isRecorded ? 1 : 0) + 1;
      const cp1 = await ok(root, ['checkpoint', '--ledger', dir, '--json']);
      expect(cp1.size, 'the checkpoint covers every event held, and only those').toBe(events);
      // The killed record's file when it was recorded (with its prompt opening), else the one recorded after.
      const file = isRecorded ? `kill-${name}-${k}.glb` : `after-${name}-${k}.glb`;
      await ok(root, [
        'prove',
        file,
        '--ledger',
        dir,
        '--unwitnessed',
        '--reveal-prompt',
        '--out',
        path.join(dir, '..', `${name}-k${k}.bundle.json`)
      ]);
      const final = await verifyClean(root, dir, { pendingAllowed: false });
      expect(final.valid).toBe(events);
      // Every prompt opening belongs to an event: the killed one's only if it was recorded.
      expect((await filesIn(path.join(dir, 'vault'))).length, 'prompt openings after the next write').toBe(
        held.openings + (isRecorded ? 1 : 0) + 1
      );
      await rm(dir, { recursive: true, force: true });
    } catch (e) {
      failures.push(`kill at operation ${k} (${ops[k - 1]}): ${(e as Error).message}`);
    }
  });
  expect(failures, failures.join('\n\n')).toEqual([]);
  return { points: points.length, recorded };
}

describe('a kill at every file operation leaves a ledger that verifies and goes on', () => {
  it('record generation', { timeout: 900_000 }, async () => {
    const { points, recorded } = await runScenario('record', {
      base: async (dir) => {
        await ok(root, ['init', '--ledger', dir, '--name', 'Ada', '--ledger-name', 'Kill Points']);
        await ok(root, gen(dir, 'the first robot', 'first.glb'));
        return { events: 2, openings: 1 };
      },
      prepare: (k) => writeFile(path.join(root, `kill-record-${k}.glb`), `killed at ${k}\n`),
      command: (dir, k) => gen(dir, `a robot killed at ${k}`, `kill-record-${k}.glb`),
      records: true
    });
    // Kills before the document's chunk is in place leave the event out, later ones leave it in: both happen.
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThan(points);
    console.info(
      `kill points: record generation, ${points} operations; the event was recorded after ${recorded} of the kills`
    );
  });

  it('checkpoint writing the journal and the device log from scratch', { timeout: 900_000 }, async () => {
    const { points } = await runScenario('checkpoint', {
      base: async (dir) => {
        await ok(root, ['init', '--ledger', dir, '--name', 'Ada', '--ledger-name', 'Kill Points']);
        // Eight events: the journal written again from scratch is one pack (and its index), not loose objects.
        for (let i = 0; i < 8; i++)
          await ok(root, [
            'record',
            'checklist',
            '--ledger',
            dir,
            '--project',
            `Project ${i}`,
            '--classification',
            'client',
            '--classified'
          ]);
        // The journal, its commit-id cache and the device log are derived from the document: removed, they are written
        // again by the checkpoint below.
        for (const d of ['journal.git', 'journal-commits', 'log'])
          await rm(path.join(dir, d), { recursive: true, force: true });
        return { events: 9, openings: 0 };
      },
      command: (dir) => ['checkpoint', '--ledger', dir],
      records: false
    });
    console.info(`kill points: checkpoint, ${points} operations`);
  });

  it(
    'recover rebuilding a document with a damaged chunk: run again, it finishes, and nothing is lost',
    { timeout: 900_000 },
    async () => {
      let damaged: { name: string; bytes: Buffer } | undefined;
      const { points } = await runScenario('recover', {
        base: async (dir) => {
          await ok(root, ['init', '--ledger', dir, '--name', 'Ada', '--ledger-name', 'Kill Points']);
          await ok(root, gen(dir, 'the first robot', 'first.glb'));
          await ok(root, [
            'record',
            'checklist',
            '--ledger',
            dir,
            '--project',
            'Robots',
            '--classification',
            'client',
            '--classified'
          ]);
          const incr = path.join(dir, 'doc', 'incr');
          const name = (await readdir(incr)).sort()[0];
          const bytes = await readFile(path.join(incr, name));
          bytes[bytes.length >> 1] ^= 0x40;
          await writeFile(path.join(incr, name), bytes);
          damaged = { name, bytes };
          return { events: 3, openings: 1 };
        },
        command: (dir) => ['recover', '--ledger', dir],
        records: false,
        settle: async (dir) => {
          const r = await cli(root, ['recover', '--ledger', dir, '--json']);
          expect(r.code, `recover run again:\n${r.stdout}${r.stderr}`).toBe(0);
        },
        check: async (dir) => {
          // The damaged chunk is kept, byte for byte, in a copy aside (a second run may have made a second copy).
          const copies = (await readdir(dir)).filter((f) => f.startsWith('doc-damaged-'));
          const kept = await Promise.all(
            copies.map((c) => readFile(path.join(dir, c, 'incr', damaged!.name)).catch(() => undefined))
          );
          expect(
            kept.some((b) => b?.equals(damaged!.bytes)),
            `the damaged chunk in ${copies.join(', ')}`
          ).toBe(true);
        },
        goesOn: false
      });
      console.info(`kill points: recover, ${points} operations`);
    }
  );

  it(
    'clone in batches: a kill leaves nothing, a clone cut short that clone finishes, or the clone',
    { timeout: 900_000 },
    async () => {
      const server = await startGitServer();
      try {
        const src = path.join(root, 'clone-src');
        await ok(root, ['init', '--ledger', src, '--name', 'Ada', '--ledger-name', 'Kill Points']);
        for (let i = 0; i < 7; i++)
          await ok(root, [
            'record',
            'checklist',
            '--ledger',
            src,
            '--project',
            `Project ${i}`,
            '--classification',
            'client',
            '--classified'
          ]);
        const events = 8;
        server.createRepo('kill.git');
        const url = server.url('kill.git');
        await ok(root, ['push', url, '--ledger', src, '--plain']);
        const BATCH = { PROVENANCE_LEDGER_CLONE_BATCH: '3' };
        const clone = (dir: string, kill?: { dir: string; at?: number; log?: string }) =>
          cli(root, ['clone', url, '--ledger', dir, '--json'], kill, BATCH);

        const counted = path.join(root, 'clone-count');
        const log = path.join(root, 'clone-ops.txt');
        const clean = await clone(counted, { dir: counted, log });
        expect(clean.code, clean.stderr).toBe(0);
        expect(JSON.parse(clean.stdout).events).toBe(events);
        const ops = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
        // Three batches, each its own chunk of the document.
        expect(ops.filter((o) => / doc\/incr\/[^ ]*$/.test(o) && / rename /.test(o)).length).toBeGreaterThanOrEqual(3);

        const failures: string[] = [];
        const seen = { nothing: 0, unfinished: 0, finished: 0 };
        await pool(
          ops.map((_, i) => i + 1),
          PARALLEL,
          async (k) => {
            const dir = path.join(root, `clone-k${k}`);
            try {
              const killed = await clone(dir, { dir, at: k });
              expect(killed.signal, `expected the kill: exit ${killed.code}\n${killed.stderr}`).toBe('SIGKILL');
              const v = await cli(root, ['verify', '--ledger', dir, '--json']);
              const where = `verify after the kill:\n${v.stdout}${v.stderr}`;
              let finished = false;
              if (v.code === 0) {
                // The clone had finished: every event, checked, nothing pending.
                const report = JSON.parse(v.stdout);
                expect(report.ok, where).toBe(true);
                expect(report.problems, where).toEqual([]);
                expect(report.pending ?? [], where).toEqual([]);
                expect(report.valid, where).toBe(events);
                finished = true;
                seen.finished++;
              } else if (/CLONE_UNFINISHED/.test(v.stderr)) {
                // The URL is quoted, unless the kill left the file written first empty.
                expect(
                  [`clone ${url} --ledger ${dir} again`, `clone URL --ledger ${dir} again`].some((m) =>
                    v.stderr.includes(m)
                  ),
                  where
                ).toBe(true);
                // Other commands refuse it as well, and change nothing.
                const log = await cli(root, ['log', '--ledger', dir, '--json']);
                expect(log.code).not.toBe(0);
                expect(log.stderr).toMatch(/CLONE_UNFINISHED/);
                seen.unfinished++;
              } else {
                expect(v.stderr, where).toMatch(/NOT_INITIALIZED/);
                seen.nothing++;
              }
              if (!finished) {
                const again = await clone(dir);
                expect(again.code, `clone run again:\n${again.stdout}${again.stderr}`).toBe(0);
                expect(JSON.parse(again.stdout).events).toBe(events);
                const report = await ok(root, ['verify', '--ledger', dir, '--json']);
                expect(report.valid).toBe(events);
                expect(report.pending ?? []).toEqual([]);
              }
              const pulled = await ok(root, ['pull', url, '--ledger', dir, '--json']);
              expect(pulled.received).toBe(0);
              expect(pulled.events).toBe(events);
              await rm(dir, { recursive: true, force: true });
            } catch (e) {
              failures.push(`kill at operation ${k} (${ops[k - 1]}): ${(e as Error).message}`);
            }
          }
        );
        expect(failures, failures.join('\n\n')).toEqual([]);
        expect(seen.unfinished).toBeGreaterThan(0);
        console.info(
          `kill points: clone, ${ops.length} operations; left nothing ${seen.nothing}, a clone cut short ${seen.unfinished}, the clone ${seen.finished}`
        );
      } finally {
        await server.close();
      }
    }
  );

  it('clone into a ledger refuses (ALREADY_INITIALIZED), a bad batch size (BAD_INPUT), and changes nothing', async () => {
    const server = await startGitServer();
    try {
      const dir = path.join(root, 'clone-into');
      await ok(root, ['init', '--ledger', dir, '--name', 'Ada', '--ledger-name', 'Kept']);
      server.createRepo('into.git');
      const other = path.join(root, 'clone-other');
      await ok(root, ['init', '--ledger', other, '--name', 'Bob', '--ledger-name', 'Other']);
      await ok(root, ['push', server.url('into.git'), '--ledger', other, '--plain']);
      const r = await cli(root, ['clone', server.url('into.git'), '--ledger', dir, '--json']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/ALREADY_INITIALIZED/);
      const report = await verifyClean(root, dir, { pendingAllowed: false });
      expect(report.valid).toBe(1);
      expect((await readdir(dir)).sort()).not.toContain('clone-unfinished');
      // A batch size that is not a positive integer is refused before anything is written.
      const none = path.join(root, 'clone-bad-batch');
      for (const bad of ['0', '-3', '2.5', 'many']) {
        const b = await cli(root, ['clone', server.url('into.git'), '--ledger', none, '--json'], undefined, {
          PROVENANCE_LEDGER_CLONE_BATCH: bad
        });
        expect(b.code).not.toBe(0);
        expect(b.stderr).toMatch(/BAD_INPUT.*PROVENANCE_LEDGER_CLONE_BATCH must be a positive integer/);
        expect(await readdir(none).catch(() => 'absent')).toBe('absent');
      }
    } finally {
      await server.close();
    }
  });
});
