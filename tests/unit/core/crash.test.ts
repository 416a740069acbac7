/**
 * Crash atomicity of the ledger over FsStorage: a child process appends events in a loop and is SIGKILLed at
 * random moments, many times over. After every kill the ledger opens without problems, verify() is ok, and the
 * event count never goes down and is at least the count the child last reported as persisted.
 *
 * The kills land anywhere: while the child starts and creates the ledger, in the middle of a save (temp file
 * written, not yet renamed), and in the middle of a compaction (compactAfter is small, so the snapshot and
 * the removal of the chunks it covers happen often).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/crash-appender.ts');
const KILLS = 30;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Run {
  /** The last count the child said was persisted (or the count it opened with). */
  lastReported: number;
  /** The count the child opened the ledger with ("ready"), -1 before. */
  openedWith: number;
  /** Whether the child got as far as opening or creating the ledger. */
  ready: boolean;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Starts the appender and SIGKILLs it: `delayMs` after start when `fromStart` (anywhere in startup, open or
 * create), otherwise `delayMs` after it has reported `appends` more persisted events than it opened with (so
 * every such run makes that much progress, however loaded the machine, and the kill lands within a later append).
 */
function runAndKill(
  dir: string,
  delayMs: number,
  opts: { fromStart: true } | { fromStart: false; appends: number }
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, dir, '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const result: Run = { lastReported: -1, openedWith: -1, ready: false, signal: null, stderr: '' };
    let buf = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => (timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs));
    if (opts.fromStart) arm();
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(ready|persisted) (\d+)$/.exec(line);
        if (!m) continue;
        result.lastReported = Number(m[2]);
        if (m[1] === 'ready') {
          result.ready = true;
          result.openedWith = result.lastReported;
        }
        if (!opts.fromStart && result.ready && result.lastReported >= result.openedWith + opts.appends) arm();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (result.stderr += d));
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      result.signal = signal;
      resolve(result);
    });
  });
}

describe('crash atomicity (SIGKILL during appends and compactions)', () => {
  it(`survives ${KILLS} kills at random moments without losing a persisted event`, { timeout: 240_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pl-crash-'));
    dirs.push(dir);
    let count = 0;
    let kills = 0;
    // Events the runs reported persisted before their kill was armed: the ledger holds at least these.
    let waitedFor = 0;
    for (let i = 0; i < KILLS; i++) {
      // Every fifth run is killed at a random moment from its start (during startup, open or create too);
      // the others after 1 to 4 persisted appends, at a random moment within the next ones (mid-save,
      // mid-compaction).
      const fromStart = i % 5 === 4;
      const appends = 1 + Math.floor(Math.random() * 4);
      const r = fromStart
        ? await runAndKill(dir, Math.random() * 600, { fromStart })
        : await runAndKill(dir, Math.random() * 40, { fromStart, appends });
      if (!fromStart) waitedFor += appends;
      expect(r.signal, `run ${i} was not killed but ended on its own:\n${r.stderr}`).toBe('SIGKILL');
      kills++;

      const storage = await FsStorage.open(dir, { staleTempMs: 0 });
      if (!(await Ledger.exists(storage))) {
        // Killed before the genesis event was saved: nothing may have been reported.
        expect(r.lastReported, `run ${i}`).toBeLessThanOrEqual(0);
        expect(count).toBe(0);
        continue;
      }
      const ledger = await Ledger.open({ storage });
      const report = await ledger.verify();
      expect(report.problems, `run ${i}`).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.valid).toBe(ledger.size);
      expect(ledger.size, `run ${i}: count went down`).toBeGreaterThanOrEqual(count);
      expect(ledger.size, `run ${i}: a persisted event was lost`).toBeGreaterThanOrEqual(r.lastReported);
      count = ledger.size;
    }
    expect(kills).toBe(KILLS);
    // Every run killed after its appends made them: the ledger holds at least those events and the genesis.
    expect(count).toBeGreaterThanOrEqual(waitedFor + 1);
  });
});
