/**
 * The browser's file hashing (src/lib/engine/files.ts hashFile). A File is a snapshot: once the file on disk no
 * longer has the size and modification time it had when chosen, the browser refuses to read it
 * (NotReadableError; Chromium does so for a same-size rewrite too, and for a modification time put back with
 * less precision). hashFile turns that into FILE_CHANGED, and hashes a recently modified file twice, refusing
 * it unless both agree. The slice sources here stand in for the browser's reads.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashFile, RACY_MS, type SliceSource } from '../../../src/lib/engine/files.ts';

const bytes = new Uint8Array(3 * 1024).fill(1);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const OLD = Date.now() - 3_600_000;

/** A source that hands out `versions[call]` in two slices, counting its calls. */
function source(
  versions: Uint8Array[],
  fail?: (call: number, slice: number) => Error | undefined
): SliceSource & { calls: number } {
  const s = Object.assign(
    async function* (_file: Blob) {
      const call = s.calls++;
      const v = versions[Math.min(call, versions.length - 1)];
      const half = v.length >> 1;
      for (const [i, part] of [v.subarray(0, half), v.subarray(half)].entries()) {
        const e = fail?.(call, i);
        if (e) throw e;
        yield part;
      }
    },
    { calls: 0 }
  );
  return s;
}

describe('hashFile in the browser: a file that changes while it is hashed is refused', () => {
  it('a file chosen long after its last change is hashed once', async () => {
    const src = source([bytes]);
    const ref = await hashFile(new File([bytes], 'robot.glb', { lastModified: OLD }), undefined, src);
    expect(ref).toEqual({ name: 'robot.glb', format: 'glb', size: bytes.length, sha256: sha(bytes) });
    expect(src.calls).toBe(1);
  });

  it("the browser's NotReadableError (read on this thread) becomes FILE_CHANGED, naming the file", async () => {
    const src = source([bytes], (_c, slice) =>
      slice === 1 ? new DOMException('The requested file could not be read', 'NotReadableError') : undefined
    );
    const p = hashFile(new File([bytes], 'robot.glb', { lastModified: OLD }), undefined, src);
    await expect(p).rejects.toMatchObject({ code: 'FILE_CHANGED' });
    await expect(p).rejects.toThrow(/^robot\.glb changed, moved or became unreadable on disk after it was chosen/);
  });

  it("the hashing worker's reader thread passes the error's name in its message: FILE_CHANGED too", async () => {
    const src = source([bytes], (_c, slice) =>
      slice === 1
        ? new Error('robot.glb could not be read: NotReadableError: The requested file could not be read')
        : undefined
    );
    await expect(hashFile(new File([bytes], 'robot.glb', { lastModified: OLD }), undefined, src)).rejects.toMatchObject(
      { code: 'FILE_CHANGED' }
    );
  });

  it('another read failure stays what it was', async () => {
    const src = source([bytes], () => new Error('the file reader stopped'));
    await expect(hashFile(new File([bytes], 'robot.glb', { lastModified: OLD }), undefined, src)).rejects.toThrow(
      /^the file reader stopped$/
    );
  });

  it(`a file modified less than ${RACY_MS} ms before is hashed twice: two different reads are refused, two equal ones pass`, async () => {
    const other = new Uint8Array(bytes.length).fill(2);
    const changing = source([bytes, other]);
    const p = hashFile(new File([bytes], 'robot.glb', { lastModified: Date.now() }), undefined, changing);
    await expect(p).rejects.toMatchObject({ code: 'FILE_CHANGED' });
    expect(changing.calls).toBe(2);
    const steady = source([bytes, bytes]);
    expect(
      (await hashFile(new File([bytes], 'robot.glb', { lastModified: Date.now() }), undefined, steady)).sha256
    ).toBe(sha(bytes));
    expect(steady.calls).toBe(2);
  });
});
