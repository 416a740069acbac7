/**
 * The ledger worker: runs the core (Automerge, hashing, signing, IndexedDB) off the main thread.
 * Requests are handled one at a time, in arrival order, so two appends never interleave.
 */
import { LedgerHost } from './host.ts';
import { initAutomerge } from './wasm.ts';
import { IdbStorage } from '../adapters/storage/idb.ts';
import { ensureIdentity, identitySigner, loadIdentity, restoreIdentity, type BrowserIdentity } from '../adapters/browser-identity.ts';
import { VaultLock } from './vault-lock.ts';
import { toJsonl } from './open-cache.ts';
import { handleDevice, isDeviceRequest } from './device-requests.ts';
import { TeamService } from './team.ts';
import { handleBundle, isBundleRequest } from './bundle-requests.ts';
import { isTeamRequest } from './team-protocol.ts';
import {
  EngineErrorCode,
  PROTOCOL_VERSION,
  isRequestMessage,
  toErrorInfo,
  type EngineState,
  type Progress,
  type Request,
  type ResponseMessage
} from './protocol.ts';

const LEDGER_DB = 'provenance-ledger';

/** The parts of DedicatedWorkerGlobalScope used here (the project's TypeScript lib is DOM, not WebWorker). */
interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
}
const scope = self as unknown as WorkerScope;

const device = (id: BrowserIdentity) => ({ memberName: id.memberName, publicKey: id.publicKey, signer: identitySigner(id) });

/** The device storage, behind the prompt vault's passphrase lock (vault-lock.ts). */
let vault: VaultLock | undefined;

const host = new LedgerHost({
  init: initAutomerge,
  openStorage: async () => (vault = new VaultLock(await IdbStorage.open(LEDGER_DB))),
  loadIdentity: async () => {
    const id = await loadIdentity();
    return id && device(id);
  },
  ensureIdentity: async (name, backupPassphrase) => device(await ensureIdentity(name, undefined, { backupPassphrase }))
});

const deviceDeps = {
  host,
  vault: async () => {
    await host.storage();
    return vault!;
  },
  identity: { load: () => loadIdentity(), restore: (backup: unknown, passphrase: string) => restoreIdentity(backup, passphrase) }
};

const team = new TeamService({
  host,
  loadIdentity: async () => {
    const id = await loadIdentity();
    return id && device(id);
  },
  ensureIdentity: async (name) => device(await ensureIdentity(name))
});

/** The page's open answer carries the events as one string of JSON lines: far cheaper to post than 10,000 objects. */
const asJson = (s: EngineState): EngineState =>
  s.state === 'ready' && s.eventsJsonl === undefined ? { ...s, events: [], eventsJsonl: toJsonl(s.events) } : s;

async function handle(request: Request, progress: (p: Progress) => void): Promise<unknown> {
  // A fast open answers from the open cache while the ledger loads: everything else (but hashing) waits for it.
  if (request.type !== 'open' && request.type !== 'hash-files') await host.settled();
  // The Team page's requests (team.ts).
  if (isTeamRequest(request)) return team.handle(request);
  // The Asset, Verify and Settings requests (device-requests.ts).
  if (isDeviceRequest(request)) return handleDevice(deviceDeps, request, progress);
  // Evidence bundles: export from the Asset page, verify on the Verify page (bundle-requests.ts).
  if (isBundleRequest(request)) return handleBundle(host, request, progress);
  switch (request.type) {
    case 'open':
      return host.open({ fast: true }).then(asJson);
    case 'create':
      return host.create(request.memberName, request.ledgerName, request.backupPassphrase);
    case 'record-generation':
      return host.recordGeneration(request.input, progress);
    case 'verify':
      return host.verify();
    case 'record-checklist':
      return host.recordChecklist(request.input);
    case 'record-policy':
      return host.recordPolicy(request.input);
    case 'policy-text':
      return host.policyText(request.sha256);
    default: {
      const unknown: never = request;
      throw Object.assign(new Error(`unknown request ${JSON.stringify((unknown as { type: unknown }).type)}`), {
        code: EngineErrorCode.PROTOCOL
      });
    }
  }
}

const post = (m: ResponseMessage) => scope.postMessage(m);

let queue: Promise<void> = Promise.resolve();

scope.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isRequestMessage(m)) {
    // Not ours (or another protocol version): answer if we can tell whom to answer.
    const id = (m as { id?: unknown } | null)?.id;
    if (typeof id === 'number') {
      post({ v: PROTOCOL_VERSION, id, kind: 'result', ok: false, error: { code: EngineErrorCode.PROTOCOL, message: 'malformed request' } });
    }
    return;
  }
  let last = 0;
  const progress = (p: Progress) => {
    const now = performance.now();
    if (now - last < 100 && p.done < p.total) return; // at most ~10 updates a second
    last = now;
    post({ v: PROTOCOL_VERSION, id: m.id, kind: 'progress', progress: p });
  };
  queue = queue.then(async () => {
    try {
      const result = await handle(m.request, progress);
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result });
    } catch (err) {
      console.error('ledger worker:', err);
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: false, error: toErrorInfo(err) });
    }
  });
});
