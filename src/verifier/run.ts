/**
 * Runs check.ts for the web app's Verify page in its own worker (worker.ts), started on first use; where a worker
 * cannot start, in the page. Independent of the ledger session: a device without a ledger checks bundles too.
 */
import type { BundleCheck, CheckProgress } from './check.ts';
import type { CheckReply, CheckRequest } from './worker.ts';

let worker: Worker | null | undefined;
let nextId = 1;
const pending = new Map<
  number,
  { resolve: (r: BundleCheck) => void; reject: (e: Error) => void; progress?: (p: CheckProgress) => void }
>();

function start(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'bundle-check' });
    worker.addEventListener('message', (e: MessageEvent<CheckReply>) => {
      const m = e.data;
      const p = pending.get(m.id);
      if (!p) return;
      if (m.t === 'progress') return p.progress?.(m.progress);
      pending.delete(m.id);
      if (m.t === 'done') p.resolve(m.result);
      else p.reject(Object.assign(new Error(m.message), { roots: m.roots }));
    });
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      worker = null;
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new Error('The bundle checker stopped; try again.'));
      }
    });
  } catch {
    worker = null;
  }
  return worker;
}

/** Checks a bundle (and files, and roots) off the page's thread. Rejects with `roots: true` when the roots are unreadable. */
export async function runCheck(
  input: { bundle: File; files: File[]; roots: File[]; expectLedger?: string },
  progress?: (p: CheckProgress) => void
): Promise<BundleCheck> {
  const w = start();
  if (!w) {
    const { checkBundle, RootsError } = await import('./check.ts');
    return checkBundle(input, progress).catch((e: unknown) => {
      throw Object.assign(e instanceof Error ? e : new Error(String(e)), { roots: e instanceof RootsError });
    });
  }
  const id = nextId++;
  return new Promise<BundleCheck>((resolve, reject) => {
    pending.set(id, { resolve, reject, progress });
    const msg: CheckRequest = {
      id,
      bundle: input.bundle,
      files: input.files,
      roots: input.roots,
      ...(input.expectLedger ? { expectLedger: input.expectLedger } : {})
    };
    w.postMessage(msg);
  });
}
