/**
 * The web app's bundle checker thread: check.ts off the page's thread (hashing a large file takes a while), with
 * nothing of the ledger (no storage, no session), so the Verify page checks a bundle on a device without a ledger.
 * One request at a time per message: {id, bundle, files, roots} in, progress notes and one answer out.
 */
import { RootsError, checkBundle, type BundleCheck, type CheckProgress } from './check.ts';

export interface CheckRequest {
  id: number;
  bundle: File;
  files: File[];
  roots: File[];
  expectLedger?: string;
}
export type CheckReply =
  | { id: number; t: 'progress'; progress: CheckProgress }
  | { id: number; t: 'done'; result: BundleCheck }
  | { id: number; t: 'error'; message: string; roots: boolean };

interface WorkerScope {
  postMessage(message: CheckReply): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<CheckRequest>) => void): void;
}
const scope = self as unknown as WorkerScope;

scope.addEventListener('message', (e) => {
  const { id, bundle, files, roots, expectLedger } = e.data;
  checkBundle({ bundle, files, roots, expectLedger }, (progress) => scope.postMessage({ id, t: 'progress', progress }))
    .then((result) => scope.postMessage({ id, t: 'done', result }))
    .catch((err: unknown) =>
      scope.postMessage({
        id,
        t: 'error',
        message: String((err as Error)?.message ?? err),
        roots: err instanceof RootsError
      })
    );
});
