/**
 * Inputs the CLI must not trust: a file rewritten while it is hashed, file names that are not UTF-8, a --ledger
 * folder that is not a ledger, and bidirectional controls in labels and in what is shown. Each refusal exits 2
 * and leaves the ledger directory (or the folder given) byte-for-byte as it was.
 *
 * Two preloads make the child deterministic: fixtures/rewrite-during-read.ts rewrites a file right after the
 * CLI's first read from it (mid-hash), fixtures/old-writer.ts stands for a writer from before labels refused
 * bidirectional controls (to make the events older ledgers hold).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, hashTree, sha256File, tempDir, type RunResult } from './helpers.ts';

const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');
const RLO = '\u202e';

let work: string;
let cleanup: () => Promise<void>;
let L: string;
let pl: ReturnType<typeof cli>;
const f = (name: string) => path.join(work, name);

/** Runs the CLI with extra node flags (preloads) and env; `shell` passes the arguments through /bin/sh (raw bytes). */
function runNode(
  nodeArgs: string[],
  args: string[],
  opts: { env?: Record<string, string>; shell?: string } = {}
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PROVENANCE_LEDGER_')) env[k] = v;
    Object.assign(env, opts.env);
    const child = opts.shell
      ? spawn('/bin/sh', ['-c', `exec "$0" "$@" ${opts.shell}`, process.execPath, ...nodeArgs, BIN, ...args], {
          cwd: work,
          env,
          stdio: ['ignore', 'pipe', 'pipe']
        })
      : spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout), errorJson: () => JSON.parse(stderr) })
    );
  });
}

/** A command that must fail with exit 2 and leave `dir` as it was. */
async function refusedIn(dir: string, r: () => Promise<RunResult>, message: RegExp): Promise<RunResult> {
  const before = await hashTree(dir);
  const res = await r();
  expect(res.code, `stdout: ${res.stdout}\nstderr: ${res.stderr}`).toBe(2);
  expect(res.stderr).toMatch(message);
  expect(await hashTree(dir)).toBe(before);
  return res;
}

const eventCount = async () => (await pl('log', '--json')).json().events.length;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir('pl-inputs-'));
  L = f('ledger');
  pl = cli(L, work);
  expect((await pl('init', '--name', 'Ada')).code).toBe(0);
  // The first writing command writes the Git journal of the genesis (init does not): do it before comparing trees.
  expect((await pl('record', 'checklist', '--project', 'P', '--classification', 'client')).code).toBe(0);
});
afterAll(() => cleanup());

describe('a file rewritten while it is hashed: FILE_CHANGED, exit 2, nothing recorded', () => {
  const rewriting = (file: string, ...args: string[]) =>
    runNode(['--import', path.join(FIXTURES, 'rewrite-during-read.ts')], [...args, '--ledger', L], {
      env: { PL_TEST_REWRITE: file }
    });

  it('an output of a generation (8 MiB, rewritten after its first 1 MiB read)', async () => {
    await writeFile(f('big.glb'), Buffer.alloc(8 << 20, 1));
    const events = await eventCount();
    const r = await refusedIn(
      L,
      () =>
        rewriting(
          f('big.glb'),
          'record',
          'generation',
          '--platform',
          'Tripo',
          '--prompt',
          'a robot',
          '--output',
          f('big.glb'),
          '--project',
          'P',
          '--classification',
          'public',
          '--json'
        ),
      /FILE_CHANGED/
    );
    expect(r.errorJson().error.code).toBe('FILE_CHANGED');
    expect(r.errorJson().error.message).toMatch(/big\.glb changed while it was being read/);
    expect(r.stdout).toBe('');
    expect(await eventCount()).toBe(events);
    // The rewrite did happen (the hook ran mid-read), and the file is now whole again: recorded normally.
    expect((await readFile(f('big.glb')))[0]).toBe(0xee);
    expect(
      (
        await pl(
          'record',
          'generation',
          '--platform',
          'Tripo',
          '--prompt',
          'a robot',
          '--output',
          f('big.glb'),
          '--project',
          'P',
          '--classification',
          'public'
        )
      ).code
    ).toBe(0);
  });

  it('a policy text and deletion evidence', async () => {
    await writeFile(f('policy.txt'), 'Terms.\n'.repeat(400_000));
    await refusedIn(
      L,
      () =>
        rewriting(
          f('policy.txt'),
          'record',
          'policy',
          '--platform',
          'Tripo',
          '--kind',
          'terms-of-service',
          '--text-file',
          f('policy.txt')
        ),
      /\[FILE_CHANGED\]: policy text file .*policy\.txt changed while it was being read/
    );
    await writeFile(f('mail.eml'), Buffer.alloc(3 << 20, 3));
    await refusedIn(
      L,
      () =>
        rewriting(
          f('mail.eml'),
          'record',
          'deletion',
          '--platform',
          'Tripo',
          '--status',
          'requested',
          '--job-id',
          'job-1',
          '--evidence',
          f('mail.eml')
        ),
      /\[FILE_CHANGED\]: file .*mail\.eml changed/
    );
  });
});

describe('a file name that is not valid UTF-8 is found, by its bytes', () => {
  const RAW = `"$(printf 'bad\\377name.glb')"`;
  const rawFile = () => Buffer.concat([Buffer.from(work + '/bad'), Buffer.from([0xff]), Buffer.from('name.glb')]);

  beforeAll(async () => {
    await writeFile(rawFile(), Buffer.alloc(2 << 20, 4));
  });

  it('record generation hashes it and records the name decoded with U+FFFD, saying so', async () => {
    const r = await runNode(
      [],
      [
        'record',
        'generation',
        '--platform',
        'Tripo',
        '--prompt',
        'p',
        '--project',
        'P',
        '--classification',
        'public',
        '--ledger',
        L,
        '--json',
        '--output'
      ],
      { shell: RAW }
    );
    expect(r.code, r.stderr).toBe(0);
    const out = r.json().event.body.outputs[0];
    expect(out.name).toBe('bad\ufffdname.glb');
    expect(out.sha256).toBe(await sha256File(rawFile() as unknown as string));
    expect(out.size).toBe(2 << 20);
    expect(r.json().notes.join('\n')).toMatch(
      /the file name bad\\xffname\.glb is not valid UTF-8: recorded as "bad\ufffdname\.glb"/
    );
  });

  it('trace finds it, and --flag=value works too', async () => {
    const t = await runNode([], ['trace', '--ledger', L, '--json'], { shell: RAW });
    expect(t.code, t.stderr).toBe(0);
    expect(t.json().found).toBe(true);
    const e = await runNode(
      [],
      ['record', 'export', '--destination', 'Vault', '--destination-kind', 'nas', '--ledger', L, '--json'],
      { shell: `"--file=$(printf 'bad\\377name.glb')"` }
    );
    expect(e.code, e.stderr).toBe(0);
    expect(e.json().event.body.files[0].name).toBe('bad\ufffdname.glb');
  });

  it('a name that is not there is "not found", shown with its bytes escaped', async () => {
    const r = await runNode([], ['trace', '--ledger', L], { shell: `"$(printf 'bad\\376name.glb')"` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/file not found: bad\\xfename\.glb/);
  });
});

describe('--ledger on a folder that is not a ledger: refused before anything in it is walked or removed', () => {
  it('log, verify, trace and record refuse (exit 2, NOT_INITIALIZED); the folder and its old temp-looking file stay', async () => {
    const folder = f('photos');
    await mkdir(path.join(folder, 'doc-scans', 'old'), { recursive: true });
    const temp = path.join(folder, 'doc-scans', 'old', '.notes+.0123456789abcdef.tmp');
    await writeFile(temp, 'a file of the user');
    await writeFile(path.join(folder, '.x+.fedcba9876543210.tmp'), 'another');
    await writeFile(path.join(folder, 'a.txt'), 'hello');
    const longAgo = new Date('2020-01-01T00:00:00Z');
    await utimes(temp, longAgo, longAgo);
    const run = (...args: string[]) => runNode([], [...args, '--ledger', folder]);
    const message =
      /\[NOT_INITIALIZED\]: .*photos is not a ledger: it holds none of doc\/, identity\/, log\/, journal\.git\/ \(nothing in it was read or changed/;
    await refusedIn(folder, () => run('log'), message);
    await refusedIn(folder, () => run('verify'), message);
    await refusedIn(folder, () => run('trace', f('big.glb')), message);
    await refusedIn(folder, () => run('record', 'checklist', '--project', 'P', '--classification', 'client'), message);
    expect((await stat(temp)).mtime.toISOString()).toBe(longAgo.toISOString());
  });

  it("in a ledger, a writing command sweeps old temp files only in the storage's own folders; a reading one sweeps none", async () => {
    const longAgo = new Date('2020-01-01T00:00:00Z');
    const temps = {
      vault: path.join(L, 'vault', '.x+.0123456789abcdef.tmp'),
      git: path.join(L, 'journal.git', '.y+.0123456789abcdef.tmp'),
      mine: path.join(L, 'mine', '.z+.0123456789abcdef.tmp')
    };
    await mkdir(path.join(L, 'mine'), { recursive: true });
    for (const t of Object.values(temps)) {
      await writeFile(t, 'partial');
      await utimes(t, longAgo, longAgo);
    }
    const before = await hashTree(L);
    expect((await pl('log')).code).toBe(0);
    expect((await pl('show', (await pl('log', '--json')).json().events[0].id)).code).toBe(0);
    expect(await hashTree(L)).toBe(before);
    expect((await pl('record', 'checklist', '--project', 'P', '--classification', 'client')).code).toBe(0);
    const exists = (p: string) =>
      stat(p).then(
        () => true,
        () => false
      );
    expect(await exists(temps.vault)).toBe(false);
    expect(await exists(temps.git)).toBe(true);
    expect(await exists(temps.mine)).toBe(true);
  });
});

describe('bidirectional controls', () => {
  it('are refused in labels of a new event, naming the field (exit 2, nothing written)', async () => {
    const r = await refusedIn(
      L,
      () => pl('record', 'checklist', '--project', `ab${RLO}cd`, '--classification', 'client', '--json'),
      /SCHEMA_INVALID/
    );
    expect(r.errorJson().error.message).toMatch(/body\.project holds U\+202E \(RIGHT-TO-LEFT OVERRIDE\)/);
    await writeFile(f(`robot${RLO}bgl.exe`), 'x');
    await refusedIn(
      L,
      () =>
        pl(
          'record',
          'generation',
          '--platform',
          'Tripo',
          '--prompt',
          'p',
          '--output',
          f(`robot${RLO}bgl.exe`),
          '--project',
          'P',
          '--classification',
          'public'
        ),
      /body\.outputs\[0\]\.name holds U\+202E/
    );
    await refusedIn(
      L,
      () => pl('record', 'checklist', '--project', 'P', '--classification', 'client', '--platform', `Tri\u2067po`),
      /body\.platform\.name holds U\+2067 \(RIGHT-TO-LEFT ISOLATE\)/
    );
  });

  it('are kept in free texts, and shown escaped', async () => {
    const r = await pl(
      'record',
      'checklist',
      '--project',
      'P',
      '--classification',
      'client',
      '--notes',
      `note \u200fRTL`
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('notes: note <U+200F>RTL');
    expect(r.stdout).not.toMatch(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
  });

  it('an event an older writer recorded with them still verifies, and log, show and --json show them escaped', async () => {
    const old = await runNode(
      ['--import', path.join(FIXTURES, 'old-writer.ts')],
      ['record', 'checklist', '--project', `ab${RLO}cd`, '--classification', 'client', '--ledger', L, '--json']
    );
    expect(old.code, old.stderr).toBe(0);
    const id = old.json().event.id;
    expect(old.stdout).toContain('"project": "ab\\u202ecd"');
    const v = await pl('verify');
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const log = await pl('log');
    expect(log.stdout).toContain('ab<U+202E>cd (client)');
    const show = await pl('show', id);
    expect(show.stdout).toContain('project: ab<U+202E>cd');
    const json = await pl('show', id, '--json');
    for (const out of [log.stdout, show.stdout, json.stdout])
      expect(out).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(json.json().event.body.project).toBe(`ab${RLO}cd`); // the same value, escaped as JSON
    // Its journal commit is the one its signature covers: the subject keeps the bytes (stock git verifies it).
    const subject = execFileSync(
      'git',
      ['--git-dir', path.join(L, 'journal.git'), 'log', '-1', '--format=%s', 'main'],
      { encoding: 'utf8' }
    );
    expect(subject).toContain(`ab${RLO}cd`);
  });
});
