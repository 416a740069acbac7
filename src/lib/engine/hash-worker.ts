/**
 * A worker that only hashes files (the `hash-files` request of the Verify and Asset pages), so that hashing
 * never waits behind the ledger worker, which may be busy loading a large ledger (Automerge's load is one
 * synchronous call of seconds at 10k events). Same message protocol as worker.ts; the files arrive as File
 * handles (no bytes cross to or from the page).
 *
 * The bytes are read on a third thread (slice-reader.ts) and handed over as transferred ArrayBuffers, so this
 * thread spends its time on SHA-256 alone: at most READ_AHEAD slices wait here (HASH_CHUNK each), so memory
 * stays flat whatever the file's size. Where a worker cannot start a worker, it reads the slices itself.
 */
import { hashFile, readSlices, type FileRef, type SliceSource } from './files.ts';
import type { ReaderIn, ReaderOut } from './slice-reader.ts';
import { EngineErrorCode, PROTOCOL_VERSION, isRequestMessage, toErrorInfo, type ResponseMessage } from './protocol.ts';

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: ResponseMessage) => scope.postMessage(m);

/** Slices read and not yet hashed, at most: the reader stays this far ahead. */
const READ_AHEAD = 2;

let reader: Worker | null | undefined;
let nextJob = 1;
const jobs = new Map<number, (m: ReaderOut) => void>();

function startReader(): Worker | null {
  if (reader !== undefined) return reader;
  try {
    reader = new Worker(new URL('./slice-reader.ts', import.meta.url), { type: 'module', name: 'slice-reader' });
    reader.addEventListener('message', (e: MessageEvent<ReaderOut>) => jobs.get(e.data.id)?.(e.data));
    reader.addEventListener('error', () => {
      // The reader could not start (or died): every read under way fails, later ones read here.
      reader = null;
      for (const [id, deliver] of jobs) deliver({ t: 'error', id, message: 'the file reader stopped' });
    });
  } catch {
    reader = null;
  }
  return reader;
}

/** The file's slices from the reader thread, as it sends them; each one hashed makes room for the next. */
const fromReader: SliceSource = (file) => {
  const r = startReader();
  if (!r) return readSlices(file);
  const id = nextJob++;
  const send = (m: ReaderIn) => r.postMessage(m);
  const queue: ReaderOut[] = [];
  let wake: (() => void) | undefined;
  jobs.set(id, (m) => {
    queue.push(m);
    wake?.();
    wake = undefined;
  });
  send({ t: 'read', id, file, ahead: READ_AHEAD });
  return (async function* () {
    let finished = false;
    try {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((res) => (wake = res));
        const m = queue.shift()!;
        if (m.t === 'end') {
          finished = true;
          return;
        }
        if (m.t === 'error') {
          finished = true;
          throw new Error(`${(file as File).name ?? 'the file'} could not be read: ${m.message}`);
        }
        yield new Uint8Array(m.buf);
        send({ t: 'more', id });
      }
    } finally {
      jobs.delete(id);
      if (!finished) send({ t: 'stop', id });
    }
  })();
};

let queue: Promise<void> = Promise.resolve();

scope.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isRequestMessage(m)) return;
  queue = queue.then(async () => {
    try {
      const r = m.request;
      if (r.type !== 'hash-files')
        throw Object.assign(new Error('this worker only hashes files'), { code: EngineErrorCode.PROTOCOL });
      if (!Array.isArray(r.files) || !r.files.every((f) => f instanceof Blob))
        throw Object.assign(new Error('no files given'), { code: 'BAD_INPUT' });
      const total = r.files.reduce((n, f) => n + f.size, 0);
      let before = 0;
      let last = 0;
      const refs: FileRef[] = [];
      for (const f of r.files) {
        const progress = (done: number) => {
          const now = performance.now();
          if (now - last < 100) return; // at most ~10 updates a second
          last = now;
          post({
            v: PROTOCOL_VERSION,
            id: m.id,
            kind: 'progress',
            progress: { label: `Hashing ${f.name}`, done: before + done, total }
          });
        };
        refs.push(await hashFile(f, progress, fromReader));
        before += f.size;
      }
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result: refs });
    } catch (err) {
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: false, error: toErrorInfo(err) });
    }
  });
});
