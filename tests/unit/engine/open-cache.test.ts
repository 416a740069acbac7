/** The open cache: a fast open answers from it only while it names exactly the stored chunks. */
import { describe, expect, it } from 'vitest';
import { LedgerHost } from '../../../src/lib/engine/host.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { OPEN_CACHE_KEY, readOpenCache, writeOpenCache } from '../../../src/lib/engine/open-cache.ts';

async function setup() {
  const storage = new MemoryStorage();
  const k = await generateDeviceKey(false);
  const id = { memberName: 'Ada', publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  const host = () => new LedgerHost({ init: async () => {}, openStorage: async () => storage, loadIdentity: async () => id, ensureIdentity: async () => id });
  return { storage, id, host };
}

describe('open cache', () => {
  it('answers a fast open with the events as JSON; ignored once the chunks change', async () => {
    const { storage, id, host } = await setup();
    const a = host();
    await a.create('Ada', 'Studio');
    await a.recordChecklist({ project: 'P', classification: 'public', policySnapshots: [], items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true } });
    const ledger = a.ledger();
    expect(await writeOpenCache(storage, ledger)).toBeTypeOf('string');
    const cache = await readOpenCache(storage);
    expect(cache?.events).toBe(2);
    expect(cache!.eventsJsonl.split('\n').map((l) => JSON.parse(l))).toEqual(JSON.parse(JSON.stringify(ledger.events())));

    const b = host();
    const s = await b.open({ fast: true });
    expect(s.state === 'ready' && s.eventsJsonl !== undefined && s.events.length === 0).toBe(true);
    if (s.state === 'ready') {
      expect(s.ledger).toEqual({ id: ledger.id, name: 'Studio' });
      expect(s.eventsJsonl!.split('\n').map((l) => JSON.parse(l).id)).toEqual(ledger.events().map((e) => e.id));
    }
    await b.settled();
    expect(b.ledger().size).toBe(2);
    // A plain open (not fast) always gives the events themselves.
    const c = await host().open();
    expect(c.state === 'ready' && c.events.length === 2 && c.eventsJsonl === undefined).toBe(true);

    // Another chunk stored (an append elsewhere): the cache no longer matches and is not used.
    const other = await Ledger.open({ storage, signer: id.signer });
    await other.append('checklist', { project: 'Q', classification: 'public', policySnapshots: [], items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true } });
    expect(await readOpenCache(storage)).toBeUndefined();
    // A fast open then loads the ledger, writes the cache again and answers with its lines.
    const d = await host().open({ fast: true });
    expect(d.state === 'ready' && d.eventsJsonl?.split('\n').length).toBe(3);
    expect((await readOpenCache(storage))?.events).toBe(3);
  });

  it('ignores a damaged cache', async () => {
    const { storage, host } = await setup();
    const a = host();
    await a.create('Ada', 'Studio');
    await writeOpenCache(storage, a.ledger());
    const bytes = (await storage.load(OPEN_CACHE_KEY))!;
    await storage.save(OPEN_CACHE_KEY, bytes.subarray(0, 20));
    expect(await readOpenCache(storage)).toBeUndefined();
    const s = await host().open({ fast: true });
    expect(s.state === 'ready' && s.eventsJsonl?.split('\n').length).toBe(1);
    expect((await readOpenCache(storage))?.events).toBe(1);
  });
});
