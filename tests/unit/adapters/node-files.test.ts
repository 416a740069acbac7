/**
 * Reading input files for the CLI (src/lib/adapters/node/files.ts): a file that changes while it is read is
 * refused with FILE_CHANGED, never hashed as a mix of two versions. Each change is made from the progress
 * callback, which runs after a chunk is hashed and before the next one is read: a deterministic moment in the
 * middle of the read, with no timers.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  openSync,
  renameSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
  closeSync
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeBytes, hashFile, readInputFile } from '../../../src/lib/adapters/node/files.ts';

const MiB = 1 << 20;
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pl-files-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A fresh 8 MiB file (8 reads of 1 MiB) filled with `fill`. */
function bigFile(fill = 1): string {
  const file = path.join(dir, `big-${n++}.glb`);
  writeFileSync(file, Buffer.alloc(8 * MiB, fill));
  return file;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A progress callback that runs `change` once, after the first chunk. */
function once(change: () => void) {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    change();
  };
}

/** Overwrites `len` bytes at `at` in place (same inode, same size). */
function overwrite(file: string, at: number, len: number, fill: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(len, fill), 0, len, at);
  } finally {
    closeSync(fd);
  }
}

async function refused(p: Promise<unknown>, how: RegExp): Promise<void> {
  await expect(p).rejects.toMatchObject({ code: 'FILE_CHANGED' });
  await expect(p).rejects.toThrow(how);
}

describe('hashFile: a file that changes while it is hashed is refused (FILE_CHANGED)', () => {
  it("hashes an unchanged file, read once or (racy) twice, to sha256sum's answer", async () => {
    const file = bigFile(7);
    const want = sha256(Buffer.alloc(8 * MiB, 7));
    let chunks = 0;
    expect(await hashFile(file, () => chunks++, { racyMs: 0 })).toEqual({ sha256: want, size: 8 * MiB });
    expect(chunks).toBe(8);
    chunks = 0;
    // Just written: its time stamps are within RACY_MS of the read, so it is read twice and both agree.
    expect(await hashFile(file, () => chunks++)).toEqual({ sha256: want, size: 8 * MiB });
    expect(chunks).toBe(16);
  });

  it('a file that grows while it is read', async () => {
    const file = bigFile();
    await refused(
      hashFile(
        file,
        once(() => appendFileSync(file, 'more')),
        { racyMs: 0 }
      ),
      /changed while it was being read \(its size went from 8388608 to 8388612 bytes\)/
    );
  });

  it('a file truncated while it is read', async () => {
    const file = bigFile();
    await refused(
      hashFile(
        file,
        once(() => writeFileSync(file, 'short')),
        { racyMs: 0 }
      ),
      /its size went from 8388608 to 5 bytes/
    );
  });

  it('a same-size rewrite in place whose modification time moves', async () => {
    const file = bigFile();
    await refused(
      hashFile(
        file,
        once(() => {
          overwrite(file, 6 * MiB, MiB, 2);
          utimesSync(file, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
        }),
        { racyMs: 0 }
      ),
      /it was written to/
    );
  });

  it('a same-size rewrite in place with the modification time put back: caught by the second read', async () => {
    const file = bigFile();
    const old = new Date(1_700_000_000_000);
    utimesSync(file, old, old);
    // Written to a part not read yet, time stamp restored: the change time still moves, and the file is racy
    // (its change time is now), so a second read is made; either check refuses it.
    await refused(
      hashFile(
        file,
        once(() => {
          overwrite(file, 6 * MiB, MiB, 2);
          utimesSync(file, old, old);
        })
      ),
      /changed while it was being read/
    );
  });

  it('a file replaced at its path (write to a temp file, rename over it) while it is read', async () => {
    const file = bigFile();
    await refused(
      hashFile(
        file,
        once(() => {
          writeFileSync(file + '.new', Buffer.alloc(8 * MiB, 9));
          renameSync(file + '.new', file);
        }),
        { racyMs: 0 }
      ),
      /another file took its place/
    );
  });

  it('a file deleted while it is read', async () => {
    const file = bigFile();
    await refused(
      hashFile(
        file,
        once(() => unlinkSync(file)),
        { racyMs: 0 }
      ),
      /it was moved or deleted/
    );
  });

  it('readInputFile (policy texts, answers) keeps the bytes of an unchanged file and refuses a changed one', async () => {
    const file = bigFile(5);
    expect(Buffer.from(await readInputFile(file, 'policy text file')).equals(Buffer.alloc(8 * MiB, 5))).toBe(true);
    await refused(
      readInputFile(file, 'policy text file', { onProgress: once(() => appendFileSync(file, 'x')), racyMs: 0 }),
      /^policy text file .* changed while it was being read/
    );
  });
});

describe('escapeBytes', () => {
  it('shows valid UTF-8 as it is and each byte of an invalid sequence as \\xNN', () => {
    expect(escapeBytes(Buffer.from('bad\xffname.glb', 'latin1'))).toBe('bad\\xffname.glb');
    expect(escapeBytes(Buffer.from([0x61, 0xc3, 0x28, 0xe2, 0x82]))).toBe('a\\xc3(\\xe2\\x82');
    expect(escapeBytes(Buffer.from('héllo ✓ 😀', 'utf8'))).toBe('héllo ✓ 😀');
    expect(escapeBytes(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80'); // an encoded surrogate
  });
});
