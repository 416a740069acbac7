/**
 * The open cache: a fast open answers from it (count and dashboard facts, no events) only while it names exactly
 * the stored chunks; pages of the event list come from it while the ledger loads; change notices follow appends.
 */
import { describe, expect, it } from 'vitest';
import { LedgerHost } from '../../../src/lib/engine/host.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import {
  EVENTS_CACHE_KEY,
  OPEN_CACHE_KEY,
  readCachedEvents,
  readOpenCache,
  writeOpenCache
} from '../../../src/lib/engine/open-cache.ts';
import { dashboardFacts } from '../../../src/lib/core/dashboard.ts';
import type { ChangeNotice } from '../../../src/lib/engine/protocol.ts';

const checklist = (project: string) => ({
  project,
  classification: 'public' as const,
  policySnapshots: [],
  items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
});

async function setup() {
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
  return { storage, id, host };
}

describe('open cache', () => {
  it('answers a fast open with the count and dashboard facts; ignored once the chunks change', async () => {
    const { storage, id, host } = await setup();
    const a = host();
    await a.create('Ada', 'Studio');
    await a.recordChecklist(checklist('P'));
    const ledger = a.ledger();
    expect(await writeOpenCache(storage, ledger)).toBe(true);
    const cache = await readOpenCache(storage);
    expect(cache?.events).toBe(2);
    expect(cache?.facts).toEqual(JSON.parse(JSON.stringify(dashboardFacts(ledger.events()))));
    expect((await readCachedEvents(storage))!.map((l) => JSON.parse(l))).toEqual(
      JSON.parse(JSON.stringify(ledger.events()))
    );

    const b = host();
    const s = await b.open({ fast: true });
    expect(s.state === 'ready' && s.events.length === 0 && s.count === 2 && s.eventsJsonl === undefined).toBe(true);
    if (s.state === 'ready') {
      expect(s.ledger).toEqual({ id: ledger.id, name: 'Studio' });
      expect(s.facts?.counts.checklists).toBe(1);
    }
    await b.settled();
    expect(b.ledger().size).toBe(2);
    // With `withEvents`, the events come along as JSON lines (from the cache).
    const w = await host().open({ fast: true, withEvents: true });
    expect(w.state === 'ready' && w.eventsJsonl!.split('\n').map((l) => JSON.parse(l).id)).toEqual(
      ledger.events().map((e) => e.id)
    );
    // A plain open (not fast) always gives the events themselves; the page's form has facts instead.
    const c = host();
    const plain = await c.open();
    expect(plain.state === 'ready' && plain.events.length === 2 && plain.facts === undefined).toBe(true);
    const forPage = c.pageState(plain);
    expect(
      forPage.state === 'ready' &&
        forPage.events.length === 0 &&
        forPage.count === 2 &&
        forPage.facts?.counts.events === 2
    ).toBe(true);

    // Another chunk stored (an append elsewhere): the cache no longer matches and is not used.
    const other = await Ledger.open({ storage, signer: id.signer });
    await other.append('checklist', checklist('Q'));
    expect(await readOpenCache(storage)).toBeUndefined();
    expect(await readCachedEvents(storage)).toBeUndefined();
    // A fast open then loads the ledger and writes the cache again.
    const d = await host().open({ fast: true });
    expect(d.state === 'ready' && d.events.length).toBe(3);
    expect((await readOpenCache(storage))?.events).toBe(3);
  });

  it('pages the event list from the cache while the ledger loads, then from the ledger', async () => {
    const { host } = await setup();
    const a = host();
    await a.create('Ada', 'Studio');
    for (const p of ['P1', 'P2', 'P3', 'P4']) await a.recordChecklist(checklist(p));
    await a.saveOpenCache();
    const ids = a
      .ledger()
      .events()
      .map((e) => e.id);

    const b = host();
    await b.open({ fast: true });
    const first = await b.eventsPage(0, 2); // answered before the load is awaited
    expect(first.total).toBe(5);
    expect(first.jsonl.split('\n').map((l) => JSON.parse(l).id)).toEqual(ids.slice(0, 2));
    await b.settled();
    const rest = await b.eventsPage(2, 10);
    expect(rest.jsonl.split('\n').map((l) => JSON.parse(l).id)).toEqual(ids.slice(2));
    await expect(b.eventsPage(-1, 2)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('tells its listeners about stored events, once per burst, with the new facts', async () => {
    const { host } = await setup();
    const a = host();
    await a.create('Ada', 'Studio');
    const notices: ChangeNotice[] = [];
    a.onChange((n) => notices.push(n));
    const v0 = (await a.eventsPage(0, 1)).version;
    await Promise.all([a.recordChecklist(checklist('P1')), a.recordChecklist(checklist('P2'))]);
    await new Promise((r) => setTimeout(r, 100));
    expect(notices).toHaveLength(1);
    expect(notices[0].count).toBe(3);
    expect(notices[0].facts.counts.checklists).toBe(2);
    expect(notices[0].added!.map((e) => e.event.body)).toMatchObject([{ project: 'P1' }, { project: 'P2' }]);
    expect(notices[0].version).toBeGreaterThan(v0);
  });

  it('ignores a damaged cache', async () => {
    const { storage, host } = await setup();
    const a = host();
    await a.create('Ada', 'Studio');
    await writeOpenCache(storage, a.ledger());
    for (const key of [OPEN_CACHE_KEY, EVENTS_CACHE_KEY]) {
      const bytes = (await storage.load(key))!;
      await storage.save(key, bytes.subarray(0, 20));
    }
    expect(await readOpenCache(storage)).toBeUndefined();
    expect(await readCachedEvents(storage)).toBeUndefined();
    const s = await host().open({ fast: true });
    expect(s.state === 'ready' && s.events.length).toBe(1);
    expect((await readOpenCache(storage))?.events).toBe(1);
  });
});
