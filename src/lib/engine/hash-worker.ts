/**
 * A worker that only hashes files (the `hash-files` request of the Verify and Asset pages), so that hashing
 * never waits behind the ledger worker, which may be busy loading a large ledger (Automerge's load is one
 * synchronous call of seconds at 10k events). Same message protocol as worker.ts; the files arrive as File
 * handles (no bytes cross to or from the page) and are read here in slices (files.ts).
 */
import { hashFile, type FileRef } from './files.ts';
import { EngineErrorCode, PROTOCOL_VERSION, isRequestMessage, toErrorInfo, type ResponseMessage } from './protocol.ts';

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: ResponseMessage) => scope.postMessage(m);

let queue: Promise<void> = Promise.resolve();

scope.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isRequestMessage(m)) return;
  queue = queue.then(async () => {
    try {
      const r = m.request;
      if (r.type !== 'hash-files') throw Object.assign(new Error('this worker only hashes files'), { code: EngineErrorCode.PROTOCOL });
      if (!Array.isArray(r.files) || !r.files.every((f) => f instanceof Blob)) throw Object.assign(new Error('no files given'), { code: 'BAD_INPUT' });
      const total = r.files.reduce((n, f) => n + f.size, 0);
      let before = 0;
      let last = 0;
      const refs: FileRef[] = [];
      for (const f of r.files) {
        refs.push(
          await hashFile(f, (done) => {
            const now = performance.now();
            if (now - last < 100) return; // at most ~10 updates a second
            last = now;
            post({ v: PROTOCOL_VERSION, id: m.id, kind: 'progress', progress: { label: `Hashing ${f.name}`, done: before + done, total } });
          })
        );
        before += f.size;
      }
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result: refs });
    } catch (err) {
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: false, error: toErrorInfo(err) });
    }
  });
});
