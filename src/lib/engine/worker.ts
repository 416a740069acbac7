/**
 * The ledger worker: runs the core (Automerge, hashing, signing, IndexedDB) off the main thread.
 * Requests are handled one at a time, in arrival order, so two appends never interleave.
 */
import { LedgerHost } from './host.ts';
import { initAutomerge } from './wasm.ts';
import { IdbStorage } from '../adapters/storage/idb.ts';
import {
  ensureIdentity,
  identitySigner,
  loadIdentity,
  renameIdentity,
  restoreIdentity,
  type BrowserIdentity
} from '../adapters/browser-identity.ts';
import { VaultLock } from './vault-lock.ts';
import { handleDevice, isDeviceRequest } from './device-requests.ts';
import { TeamService } from './team.ts';
import { attachedDeviceLog, handleBundle, isBundleRequest } from './bundle-requests.ts';
import { isTeamRequest } from './team-protocol.ts';
import { BrowserJournal, isJournalRequest } from './browser-journal.ts';
import { TimestampService, isTimestampRequest } from './timestamps.ts';
import {
  EngineErrorCode,
  PROTOCOL_VERSION,
  isRequestMessage,
  toErrorInfo,
  type EngineState,
  type NoticeMessage,
  type Progress,
  type Request,
  type ResponseMessage
} from './protocol.ts';

const LEDGER_DB = 'provenance-ledger';

/** The parts of DedicatedWorkerGlobalScope used here (the project's TypeScript lib is DOM, not WebWorker). */
interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<unknown>) => void): void;
  addEventListener(type: 'online', listener: () => void): void;
}
const scope = self as unknown as WorkerScope;

const device = (id: BrowserIdentity) => ({
  memberName: id.memberName,
  publicKey: id.publicKey,
  signer: identitySigner(id)
});

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

/** The Git journal in IndexedDB, kept in step with the open ledger (browser-journal.ts). */
const journal = new BrowserJournal(host);

const deviceDeps = {
  host,
  vault: async () => {
    await host.storage();
    return vault!;
  },
  identity: {
    load: () => loadIdentity(),
    restore: (backup: unknown, passphrase: string) => restoreIdentity(backup, passphrase)
  }
};

const team = new TeamService({
  host,
  loadIdentity: async () => {
    const id = await loadIdentity();
    return id && device(id);
  },
  ensureIdentity: async (name) => device(await ensureIdentity(name)),
  renameIdentity: async (name) => void (await renameIdentity(name))
});

/** RFC 3161 time-stamps of the device log's checkpoints, through the relay (timestamps.ts; Settings → Trusted time). */
const timestamps = new TimestampService({
  host,
  teamRelay: async () => (await team.settings()).relay,
  deviceLog: (ledger) => attachedDeviceLog(host, ledger)
});
scope.addEventListener('online', () => timestamps.wake());

/**
 * Ledger states go to the page without their events (count and dashboard facts instead: host.pageState); the
 * page pulls the event list in pages (`events`) when it needs it.
 */
function forPage(type: Request['type'], result: unknown): unknown {
  if (type === 'restore-key' || type === 'team-join') return host.pageState(result as EngineState);
  if (type === 'import-ledger' || type === 'full-restore') {
    const r = result as { state: EngineState };
    return { ...r, state: host.pageState(r.state) };
  }
  return result;
}

// Events stored (appended here, received from a peer, imported): the page updates every view it shows.
host.onChange((notice) => scope.postMessage({ v: PROTOCOL_VERSION, kind: 'notice', notice } satisfies NoticeMessage));

async function handle(request: Request, progress: (p: Progress) => void): Promise<unknown> {
  // A fast open answers from the open cache while the ledger loads: everything else (but hashing and pages of
  // the event list, which the cache answers too) waits for it.
  if (request.type !== 'open' && request.type !== 'hash-files' && request.type !== 'events') await host.settled();
  // The Team page's requests (team.ts).
  if (isTeamRequest(request)) return team.handle(request);
  // The Asset, Verify and Settings requests (device-requests.ts).
  if (isDeviceRequest(request)) return handleDevice(deviceDeps, request, progress);
  // Evidence bundles: export from the Asset page, verify on the Verify page (bundle-requests.ts).
  if (isBundleRequest(request)) return handleBundle(host, request);
  // The Git journal: status, push, pull (Settings page).
  if (isJournalRequest(request)) return journal.handle(request);
  // Trusted time: TSAs, relay, tokens, pending requests (Settings page).
  if (isTimestampRequest(request)) return timestamps.handle(request);
  switch (request.type) {
    case 'open': {
      const withEvents = request.withEvents === true;
      return host.open({ fast: true, withEvents }).then((s) => host.pageState(s, { withEvents }));
    }
    case 'events':
      return host.eventsPage(request.offset, request.limit);
    case 'create':
      return host
        .create(request.memberName, request.ledgerName, request.backupPassphrase)
        .then((s) => host.pageState(s));
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
      post({
        v: PROTOCOL_VERSION,
        id,
        kind: 'result',
        ok: false,
        error: { code: EngineErrorCode.PROTOCOL, message: 'malformed request' }
      });
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
      const result = forPage(m.request.type, await handle(m.request, progress));
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result });
    } catch (err) {
      console.error('ledger worker:', err);
      post({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: false, error: toErrorInfo(err) });
    }
    // The journal follows the open ledger (opened, created, imported, reopened), writing behind.
    void host.settled().then(
      () => journal.follow(),
      () => undefined
    );
    // Time-stamping follows it too (with TSAs configured: after each checkpoint, and pending requests retried).
    void host.settled().then(
      () => timestamps.follow(),
      () => undefined
    );
  });
});
