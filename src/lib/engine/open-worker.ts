/**
 * The first answer of a page load: a worker of a few KB that reads the open cache (open-cache.ts) and the
 * device's name and key, and answers the page's `open` with the dashboard's facts while the ledger worker
 * (hundreds of KB of modules: Automerge, sync, the Git journal) is still being fetched, compiled and started.
 * It reads only, answers once and is closed by the page; the ledger worker opens the ledger as before.
 *
 * Answers `open` with the ledger's state (events left out: count and facts) when the open cache names exactly
 * the stored chunks, and null otherwise (no ledger, no cache, a stale one): the page then waits for the ledger
 * worker's answer. Same message protocol as worker.ts.
 */
import { IdbStorage } from '../adapters/storage/idb.ts';
import { loadIdentity } from '../adapters/browser-identity.ts';
import { readOpenCache } from './open-cache.ts';
import { PROTOCOL_VERSION, isRequestMessage, toErrorInfo, type EngineState, type ResponseMessage } from './protocol.ts';

/** The ledger worker's database (worker.ts); the open cache is stored unsealed (only vault/ is). */
const LEDGER_DB = 'provenance-ledger';

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: ResponseMessage) => scope.postMessage(m);

async function quickOpen(): Promise<EngineState | null> {
  const storage = await IdbStorage.open(LEDGER_DB);
  const [cached, identity] = await Promise.all([readOpenCache(storage), loadIdentity().catch(() => undefined)]);
  if (!cached) return null;
  return {
    state: 'ready',
    ledger: cached.ledger,
    member: identity ? { name: identity.memberName, publicKey: identity.publicKey } : null,
    events: [],
    count: cached.events,
    facts: cached.facts
  };
}

scope.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isRequestMessage(m)) return;
  const answer = m.request.type === 'open' ? quickOpen() : Promise.resolve(null);
  answer.then(
    (result) => post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result }),
    (err) => post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: false, error: toErrorInfo(err) })
  );
});
