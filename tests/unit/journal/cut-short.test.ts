/**
 * A journal write cut short (a tab closed or a page left while the worker writes behind the appends, a killed
 * CLI): whichever file operation it stops at, the next attach finishes the journal, stock `git fsck --strict`
 * finds nothing wrong, and the cross-check is clean. And a journal that lacks a commit's tree or event blob
 * (written by a version that stored the commit first) is reported by the cross-check, naming the object.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { crossCheck } from '../../../src/lib/adapters/git/crosscheck.ts';
import type { GitBinding } from '../../../src/lib/adapters/git/binding.ts';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'journal-cut-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Stock git; a failure carries what git printed (fsck reports missing objects on stdout). */
const gitIn = (gitdir: string, ...args: string[]): string => {
  try {
    return execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`git ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: e });
  }
};

class Cut extends Error {}

/** The binding of `dir` whose file system stops for good after `budget` changing operations. */
function cutAfter(dir: string, budget: number): { binding: GitBinding; cut: () => boolean } {
  const base = nodeBinding(dir);
  const p = base.fs.promises as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  let left = budget;
  let stopped = false;
  const changing = new Set(['writeFile', 'mkdir', 'rename', 'unlink', 'rmdir']);
  const promises = new Proxy(p, {
    get(target, name: string) {
      const f = target[name];
      if (typeof f !== 'function') return f;
      return async (...args: unknown[]) => {
        if (changing.has(name)) {
          if (stopped || left-- <= 0) {
            stopped = true;
            throw new Cut(`cut short before ${name} ${String(args[0])}`);
          }
        }
        return f.apply(target, args);
      };
    }
  });
  return { binding: { ...base, fs: { promises } as unknown as GitBinding['fs'] }, cut: () => stopped };
}

describe('a journal write cut short', () => {
  it('at every file operation: the next attach completes it, fsck --strict is clean, the cross-check too', async () => {
    const { ledger } = await newLedger();
    await ledger.append('generation', generationBody());
    await ledger.append('generation', generationBody());
    const cuts: string[] = [];
    for (let budget = 0; ; budget++) {
      const dir = path.join(tmp, `cut-${budget}`);
      // The ledger's first two events are already in the journal; the third is being written when it stops.
      const first = await GitJournal.attach(nodeBinding(dir), ledger);
      first.detach();
      const third = await ledger.append('generation', generationBody());
      const faulty = cutAfter(dir, budget);
      let error: unknown;
      try {
        const j = await GitJournal.attach(faulty.binding, ledger);
        j.detach();
      } catch (e) {
        error = e;
      }
      if (!faulty.cut()) {
        expect(error).toBeUndefined();
        break;
      }
      // A write that stops on the journal's own files is reported as a damaged journal, the stop as its cause.
      expect((error as { cause?: unknown })?.cause ?? error, `budget ${budget}`).toBeInstanceOf(Cut);
      cuts.push((error as Error).message);
      const j = await GitJournal.attach(nodeBinding(dir), ledger);
      j.detach();
      expect(j.size, `after ${(error as Error).message}`).toBe(ledger.size);
      expect(j.commitOf(third.id)).toBe(ledger.commitOf(third.id));
      const gitdir = path.join(dir, 'journal.git');
      gitIn(gitdir, 'fsck', '--strict', '--no-dangling');
      expect(gitIn(gitdir, 'rev-parse', 'main').trim()).toBe(ledger.commitOf(third.id));
      expect(await crossCheck(nodeBinding(dir), ledger), `after ${(error as Error).message}`).toEqual([]);
    }
    // The object writes (blob, tree, commit: each a temporary file and a rename) and the ref were all cut.
    expect(cuts.filter((c) => c.includes('/objects/')).length).toBeGreaterThanOrEqual(6);
    expect(cuts.some((c) => c.includes('refs/heads/main'))).toBe(true);
  });

  it('a commit whose tree or event blob is not stored is reported by the cross-check, naming the object', async () => {
    const { ledger } = await newLedger();
    const ev = await ledger.append('generation', generationBody());
    for (const which of ['tree', 'blob'] as const) {
      const dir = path.join(tmp, `lacks-${which}`);
      const j = await GitJournal.attach(nodeBinding(dir), ledger);
      j.detach();
      const gitdir = path.join(dir, 'journal.git');
      const oid = gitIn(
        gitdir,
        'rev-parse',
        which === 'tree' ? `${ledger.commitOf(ev.id)}^{tree}` : `${ledger.commitOf(ev.id)}:event.json`
      ).trim();
      unlinkSync(path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2)));
      const problems = await crossCheck(nodeBinding(dir), ledger);
      expect(problems.map((p) => [p.code, p.eventId, p.location])).toEqual([
        ['JOURNAL_CORRUPT', ev.id, `journal object ${oid}`]
      ]);
      expect(problems[0].message).toContain(
        which === 'tree'
          ? `names tree ${oid}, which is not stored`
          : `names event.json (blob ${oid}), which is not stored`
      );
    }
  });
});
