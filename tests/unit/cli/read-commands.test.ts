/**
 * main.ts runs log, show and trace in their plain forms without commander (plainReadCommand): the same command
 * lines give the same output and exit code through both paths, and every other form goes to commander.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, plainReadCommand } from '../../../src/cli/main.ts';
import { runProgram } from '../../../src/cli/program.ts';
import { Output } from '../../../src/cli/output.ts';
import { LEDGER_DIR_ENV } from '../../../src/cli/context.ts';
import { tempDir } from './helpers.ts';

async function capture(run: typeof main, args: string[]) {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, done) {
        add(String(chunk));
        done();
      }
    });
  const out = new Output({ stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) });
  const code = await run(['node', 'provenance-ledger', ...args], out);
  return { code, stdout, stderr };
}

describe('plainReadCommand', () => {
  it('takes the plain forms of log, show and trace', () => {
    expect(plainReadCommand(['log', '--ledger', 'd'])).toEqual({ command: 'log', opts: { ledger: 'd' } });
    expect(
      plainReadCommand(['log', '--json', '--type', 'member', '--project', 'P', '--platform', 'T', '--ledger', 'd'])
    ).toEqual({ command: 'log', opts: { json: true, type: 'member', project: 'P', platform: 'T', ledger: 'd' } });
    expect(plainReadCommand(['show', 'abcdef12', '--ledger', 'd', '--json'])).toEqual({
      command: 'show',
      opts: { ledger: 'd', json: true },
      arg: 'abcdef12'
    });
    expect(plainReadCommand(['trace', '--ledger', 'd', 'x.glb'])).toEqual({
      command: 'trace',
      opts: { ledger: 'd' },
      arg: 'x.glb'
    });
  });

  it('leaves every other form to commander', () => {
    for (const args of [
      [],
      ['verify', '--ledger', 'd'],
      ['--ledger', 'd', 'log'],
      ['log', '--help'],
      ['log', '-h'],
      ['log', '--ledger=d'],
      ['log', '--ledger'],
      ['log', '--ledger', ''],
      ['log', '--ledger', '-d'],
      ['log', '--ledger', 'd', '--ledger', 'e'],
      ['log', '--json', '--json'],
      ['log', '--type', 'bogus'],
      ['log', 'extra'],
      ['log', '--', 'x'],
      ['show', '--ledger', 'd'],
      ['show', 'a', 'b'],
      ['show', '-x'],
      ['show', '--type', 'member', 'abcdef12'],
      ['trace', ''],
      ['trace', 'f', '--project', 'P']
    ]) {
      expect(plainReadCommand(args), args.join(' ')).toBeUndefined();
    }
  });

  it('takes the directory from the environment when --ledger is not given, as commander does', () => {
    const before = process.env[LEDGER_DIR_ENV];
    process.env[LEDGER_DIR_ENV] = '/from/env';
    try {
      expect(plainReadCommand(['log'])?.opts.ledger).toBe('/from/env');
      expect(plainReadCommand(['log', '--ledger', 'd'])?.opts.ledger).toBe('d');
    } finally {
      if (before === undefined) delete process.env[LEDGER_DIR_ENV];
      else process.env[LEDGER_DIR_ENV] = before;
    }
  });
});

describe('log, show and trace: the same answers without commander', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dir: string;
  let file: string;
  let id: string;

  beforeAll(async () => {
    tmp = await tempDir();
    dir = path.join(tmp.dir, 'l');
    file = path.join(tmp.dir, 'robot.glb');
    await writeFile(file, 'a model');
    expect((await capture(main, ['init', '--name', 'Ada', '--ledger', dir])).code).toBe(0);
    const rec = await capture(main, [
      'record',
      'generation',
      '--platform',
      'Tripo',
      '--prompt',
      'a robot',
      '--output',
      file,
      '--project',
      'Robots',
      '--classification',
      'client',
      '--ledger',
      dir,
      '--json'
    ]);
    expect(rec.code, rec.stderr).toBe(0);
    id = JSON.parse(rec.stdout).event.id;
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it('prints what commander prints, for answers and for errors', async () => {
    const lines = [
      ['log', '--ledger', dir],
      ['log', '--ledger', dir, '--json'],
      ['log', '--type', 'generation', '--project', 'Robots', '--ledger', dir],
      ['log', '--platform', 'Meshy', '--ledger', dir],
      ['show', id.slice(0, 10), '--ledger', dir],
      ['show', id, '--ledger', dir, '--json'],
      ['trace', file, '--ledger', dir],
      ['trace', file, '--ledger', dir, '--json'],
      ['show', 'ffffffff', '--ledger', dir],
      ['show', 'xyz', '--ledger', dir, '--json'],
      ['trace', path.join(tmp.dir, 'missing.glb'), '--ledger', dir],
      ['log', '--ledger', path.join(tmp.dir, 'nowhere')]
    ];
    const codes = new Set<number>();
    for (const args of lines) {
      expect(plainReadCommand(args), args.join(' ')).toBeDefined();
      const fast = await capture(main, args);
      const full = await capture(runProgram, args);
      expect(fast, args.join(' ')).toEqual(full);
      codes.add(fast.code);
    }
    // Both answers and refusals were compared.
    expect([...codes].sort()).toEqual([0, 2]);
    const shown = await capture(main, ['show', id.slice(0, 10), '--ledger', dir]);
    expect(shown.stdout).toContain(id);
  });
});
