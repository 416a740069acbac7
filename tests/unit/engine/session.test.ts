/**
 * LedgerSession over a worker stand-in that answers as worker.ts does, with a real LedgerHost on memory storage:
 * the dashboard opens from the open cache without one event crossing; pages that need the list get it in pages;
 * change notices (appends here, events stored elsewhere) update the figures and the list in place.
 */
import { describe, expect, it, vi } from 'vitest';
import { LedgerHost } from '../../../src/lib/engine/host.ts';
import { EngineClient, type WorkerLike } from '../../../src/lib/engine/client.ts';
import { LedgerSession } from '../../../src/lib/engine/session.svelte.ts';
import { PROTOCOL_VERSION, toErrorInfo, type Request, type RequestMessage } from '../../../src/lib/engine/protocol.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';

const checklist = (project: string) => ({
  project,
  classification: 'client' as const,
  policySnapshots: [],
  items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
});

/** Answers like worker.ts (open, events, create, record-checklist) and forwards the host's change notices. */
class HostWorker implements WorkerLike {
  readonly sent: Request[] = [];
  /** Called before each request is handled (a test changes the ledger between two pages). */
  beforeAnswer?: (r: Request) => Promise<void>;
  #listeners: ((e: MessageEvent) => void)[] = [];
  readonly #host: LedgerHost;

  constructor(host: LedgerHost) {
    this.#host = host;
    host.onChange((notice) => this.#emit({ v: PROTOCOL_VERSION, kind: 'notice', notice }));
  }

  #emit(data: unknown) {
    const copy = structuredClone(data);
    for (const fn of this.#listeners) fn({ data: copy } as MessageEvent);
  }

  async #handle(r: Request): Promise<unknown> {
    const h = this.#host;
    switch (r.type) {
      case 'open':
        return h.pageState(await h.open({ fast: true, withEvents: r.withEvents }), { withEvents: r.withEvents });
      case 'events':
        return h.eventsPage(r.offset, r.limit);
      case 'record-checklist':
        return h.recordChecklist(r.input);
      default:
        throw new Error(`not in this stand-in: ${r.type}`);
    }
  }

  postMessage(message: unknown): void {
    const m = message as RequestMessage;
    this.sent.push(m.request);
    void (async () => {
      try {
        await this.beforeAnswer?.(m.request);
        const result = await this.#handle(m.request);
        this.#emit({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result });
      } catch (e) {
        this.#emit({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: false, error: toErrorInfo(e) });
      }
    })();
  }

  addEventListener(type: string, fn: (e: never) => void): void {
    if (type === 'message') this.#listeners.push(fn as (e: MessageEvent) => void);
  }
}

async function ledgerWith(projects: string[]) {
  const storage = new MemoryStorage();
  const k = await generateDeviceKey(false);
  const id = { memberName: 'Ada', publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  const host = () =>
    new LedgerHost({
      init: async () => {},
      openStorage: async () => storage,
      loadIdentity: async () => id,
      ensureIdentity: async () => id
    });
  const a = host();
  await a.create('Ada', 'Studio');
  for (const p of projects) await a.recordChecklist(checklist(p));
  await a.saveOpenCache();
  return host;
}

describe('LedgerSession', () => {
  it('shows the dashboard with no event crossing, loads the list in pages on demand, and follows every change', async () => {
    const host = (await ledgerWith(['P1', 'P2', 'P3', 'P4', 'P5']))();
    const worker = new HostWorker(host);
    const session = new LedgerSession(new EngineClient(worker), { pageSize: 2 });
    await session.start();
    expect(session.status).toBe('ready');
    expect(session.count).toBe(6);
    expect(session.dashboard?.counts.checklists).toBe(5);
    expect(session.dashboard?.recent.map((e) => (e.event.body as { project?: string }).project)).toEqual([
      'P5',
      'P4',
      'P3',
      'P2',
      'P1',
      undefined
    ]);
    expect(worker.sent.map((r) => r.type)).toEqual(['open']); // the dashboard never asks for events
    expect(session.eventsLoaded).toBe(false);

    // A page reads the list: it comes in pages of two, oldest first.
    expect(session.events).toEqual([]);
    await vi.waitFor(() => expect(session.eventsLoaded).toBe(true));
    expect(worker.sent.filter((r) => r.type === 'events').map((r) => (r as { offset: number }).offset)).toEqual([
      0, 2, 4
    ]);
    await host.settled();
    expect(session.events.map((e) => e.id)).toEqual(
      host
        .ledger()
        .events()
        .map((e) => e.id)
    );

    // An append from this page: in the list at once, then the figures follow the worker's notice.
    await session.recordChecklist(checklist('P6'));
    expect(session.events).toHaveLength(7);
    await vi.waitFor(() => expect(session.count).toBe(7));
    expect(session.dashboard?.counts.checklists).toBe(6);
    expect(session.events).toHaveLength(7);

    // Events stored elsewhere in the worker (a peer's, an import): the notice brings them.
    await host.ledger().append('checklist', checklist('From a peer'));
    await vi.waitFor(() => expect(session.count).toBe(8));
    expect(session.events.map((e) => e.id)).toEqual(
      host
        .ledger()
        .events()
        .map((e) => e.id)
    );
    expect(session.dashboard?.counts.checklists).toBe(7);
    expect(session.dashboard?.gaps.total).toBe(0);
  });

  it('starts the list again when the ledger changes between two pages', async () => {
    const host = (await ledgerWith(['P1', 'P2', 'P3']))();
    const worker = new HostWorker(host);
    const session = new LedgerSession(new EngineClient(worker), { pageSize: 2 });
    await session.start();
    let changed = false;
    worker.beforeAnswer = async (r) => {
      if (r.type === 'events' && r.offset === 2 && !changed) {
        changed = true;
        await host.ledger().append('checklist', checklist('Meanwhile'));
      }
    };
    session.needEvents();
    await vi.waitFor(() => expect(session.eventsLoaded).toBe(true));
    await vi.waitFor(() => expect(session.count).toBe(5));
    expect(session.events.map((e) => e.id)).toEqual(
      host
        .ledger()
        .events()
        .map((e) => e.id)
    );
    expect(worker.sent.filter((r) => r.type === 'events').length).toBeGreaterThan(2);
  });

  it('opens with the list when a page asked for it before the open', async () => {
    const host = (await ledgerWith(['P1']))();
    const worker = new HostWorker(host);
    const session = new LedgerSession(new EngineClient(worker));
    session.needEvents();
    await session.start();
    expect(session.eventsLoaded).toBe(true);
    expect(session.events).toHaveLength(2);
    expect(worker.sent.map((r) => r.type)).toEqual(['open']);
  });
});
