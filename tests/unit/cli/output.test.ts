/**
 * Human output never lets text from a file, a bundle, a peer or a remote drive the terminal: control characters
 * other than newline and tab reach it as U+FFFD, on stdout (results, notes) and stderr (warnings, errors). JSON
 * output keeps the text exactly (JSON escapes it). And end to end: a bundle file holding an escape sequence.
 */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Output, terminalSafe } from '../../../src/cli/output.ts';
import { LedgerError } from '../../../src/lib/core/errors.ts';
import { run, tempDir } from './helpers.ts';

function capture() {
  const chunks = { stdout: '', stderr: '' };
  const stream = (k: 'stdout' | 'stderr') => new Writable({ write: (c, _e, cb) => ((chunks[k] += String(c)), cb()) });
  return { out: new Output({ stdout: stream('stdout'), stderr: stream('stderr') }), chunks };
}

const HOSTILE = 'robot\u001b[2J\u001b]0;owned\u0007-final\r.glb\u009b31m';

describe('terminal output', () => {
  it('replaces control characters but newline and tab, in results, notes, warnings and errors', () => {
    expect(terminalSafe('a\tb\nc')).toBe('a\tb\nc');
    expect(terminalSafe(HOSTILE)).toBe('robot\ufffd[2J\ufffd]0;owned\ufffd-final\ufffd.glb\ufffd31m');
    const { out, chunks } = capture();
    out.note(`file ${HOSTILE}`);
    out.result({ name: HOSTILE }, (say) => say(`recorded ${HOSTILE}`));
    out.warn(`odd ${HOSTILE}`);
    out.error(new LedgerError('BAD_INPUT' as never, `bad ${HOSTILE}`));
    for (const text of [chunks.stdout, chunks.stderr]) {
      expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(text).toContain('robot\ufffd[2J');
    }
    expect(chunks.stdout).toContain(`recorded ${terminalSafe(HOSTILE)}\nnote: file ${terminalSafe(HOSTILE)}\n`);
  });

  it('JSON output keeps the text exactly', () => {
    const { out, chunks } = capture();
    out.json = true;
    out.result({ name: HOSTILE }, () => undefined);
    expect(JSON.parse(chunks.stdout).name).toBe(HOSTILE);
    expect(chunks.stdout).not.toContain('\u001b');
  });

  it('verify-bundle on a file holding an escape sequence prints none of it', async () => {
    const tmp = await tempDir('pl-out-');
    try {
      const file = path.join(tmp.dir, 'evil.bundle');
      await writeFile(file, `\u001b[2J\u001b[31mnot a bundle`);
      const r = await run(['verify-bundle', file]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/INVALID: 1 failure in evil\.bundle/);
      expect(r.stdout + r.stderr).not.toContain('\u001b');
    } finally {
      await tmp.cleanup();
    }
  });
});
