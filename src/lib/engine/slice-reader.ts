/**
 * The hashing worker's reader: reads a file in HASH_CHUNK slices on a thread of its own and hands each one over
 * (transferred, not copied) to the hashing worker, which only hashes.
 *
 * Why a thread: taking in the bytes of a Blob read costs the reading thread about a third of the time SHA-256
 * takes (measured in Chromium: 512 MiB read alone ~1 s, hashed alone ~2.3 s, read and hashed on one thread
 * ~3.4 s; on two threads ~2.4 s, the hash's own speed).
 *
 * Messages (between the hashing worker and this one):
 *   in:  { t: 'read', id, file, ahead }   read `file`, at most `ahead` slices handed over and not yet hashed
 *        { t: 'more', id }                 one slice was hashed: room for one more
 *        { t: 'stop', id }                 the hash gave up (a failure): read no further
 *   out: { t: 'slice', id, buf }           the next slice (buf transferred)
 *        { t: 'end', id } | { t: 'error', id, message }
 */
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { HASH_CHUNK } from './files.ts';

export type ReaderIn =
  { t: 'read'; id: number; file: Blob; ahead: number } | { t: 'more'; id: number } | { t: 'stop'; id: number };
export type ReaderOut =
  { t: 'slice'; id: number; buf: ArrayBuffer } | { t: 'end'; id: number } | { t: 'error'; id: number; message: string };

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: ReaderOut, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

interface Job {
  credits: number;
  wake?: () => void;
  stopped: boolean;
}
const jobs = new Map<number, Job>();

async function read(id: number, file: Blob, ahead: number): Promise<void> {
  const job: Job = { credits: ahead, stopped: false };
  jobs.set(id, job);
  try {
    const size = file.size;
    for (let from = 0; from < size && !job.stopped;) {
      while (job.credits <= 0 && !job.stopped) await new Promise<void>((r) => (job.wake = r));
      if (job.stopped) break;
      job.credits--;
      const buf = await file.slice(from, Math.min(from + HASH_CHUNK, size)).arrayBuffer();
      if (buf.byteLength === 0) throw new LedgerError(ErrorCode.FILE_CHANGED, 'the file could not be read to its end');
      from += buf.byteLength;
      post({ t: 'slice', id, buf }, [buf]);
    }
    post({ t: 'end', id });
  } catch (e) {
    // The name too: a NotReadableError says the file changed on disk since it was chosen (files.ts hashFile).
    post({ t: 'error', id, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    jobs.delete(id);
  }
}

scope.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data as ReaderIn;
  if (typeof m !== 'object' || m === null || typeof m.id !== 'number') return;
  if (m.t === 'read' && m.file instanceof Blob) void read(m.id, m.file, Math.max(1, Math.min(4, m.ahead | 0)));
  else {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.t === 'more') job.credits++;
    else if (m.t === 'stop') job.stopped = true;
    job.wake?.();
    job.wake = undefined;
  }
});
