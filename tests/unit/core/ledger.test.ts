import { describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { forkDevice } from '../sync/helpers.ts';
import { generationBody, newLedger, newSigner } from '../helpers/ledger.ts';

describe('Ledger', () => {
  it('creates a ledger whose genesis makes the creator its owner', async () => {
    const { ledger, signer } = await newLedger();
    expect(ledger.name).toBe('Studio');
    expect(ledger.events()).toHaveLength(1);
    expect(ledger.roster()).toEqual([
      expect.objectContaining({ key: signer.publicKey, name: 'Ada', role: 'owner', active: true })
    ]);
    expect(ledger.heads()).toEqual([ledger.id]);
  });

  it('appends signed events that name the heads they saw, and reloads them from storage', async () => {
    const { ledger, storage, signer } = await newLedger();
    const a = await ledger.append('generation', generationBody());
    const b = await ledger.append('generation', generationBody());
    expect(a.event.parents).toEqual([ledger.id]);
    expect(b.event.parents).toEqual([a.id]);
    expect(ledger.heads()).toEqual([b.id]);
    const again = await Ledger.open({ storage, signer });
    expect(again.events().map((e) => e.id)).toEqual(ledger.events().map((e) => e.id));
    const report = await again.verify();
    expect(report).toMatchObject({ ok: true, checked: 3, valid: 3, problems: [] });
  });

  it('refuses an invalid body and leaves the ledger exactly as it was', async () => {
    const { ledger, storage } = await newLedger();
    await ledger.append('generation', generationBody());
    const before = await storage.loadRange([]);
    await expect(ledger.append('generation', generationBody({ classification: 'secret' }))).rejects.toMatchObject({
      code: 'SCHEMA_INVALID',
      message: expect.stringContaining('classification')
    });
    expect(await storage.loadRange([])).toEqual(before);
    expect(ledger.events()).toHaveLength(2);
  });

  it('refuses appends from a key that is not a member', async () => {
    const { storage } = await newLedger();
    const stranger = await Ledger.open({ storage, signer: await newSigner() });
    await expect(stranger.append('generation', generationBody())).rejects.toMatchObject({ code: 'AUTHOR_NOT_MEMBER' });
  });

  it('lets an owner add a member, whose events then count; a removed member can no longer append', async () => {
    const { ledger, storage } = await newLedger();
    const bob = await newSigner();
    await ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
    });
    const asBob = await Ledger.open({ storage, signer: bob });
    await asBob.append('generation', generationBody());
    // Bob may not change the roster.
    await expect(
      asBob.append('member', {
        action: 'add',
        member: { id: 'eve', name: 'Eve', key: (await newSigner()).publicKey, role: 'member' }
      })
    ).rejects.toMatchObject({ code: 'AUTHOR_NOT_AUTHORIZED' });
    const owner = await Ledger.open({ storage, signer: ledger.signer });
    await owner.append('member', {
      action: 'remove',
      member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
    });
    const asBob2 = await Ledger.open({ storage, signer: bob });
    await expect(asBob2.append('generation', generationBody())).rejects.toMatchObject({ code: 'AUTHOR_REMOVED' });
    expect((await owner.verify()).ok).toBe(true);
  });

  it('traces a file through its generation, derivation, export and handoff', async () => {
    const { ledger } = await newLedger();
    const gen = await ledger.append('generation', generationBody());
    const out = (gen.event.body as any).outputs[0];
    const retopo = { name: 'robot-retopo.fbx', format: 'fbx', size: 999, sha256: 'ab'.repeat(32) };
    await ledger.append('export', {
      generation: gen.id,
      files: [out],
      destination: { label: 'Vault SSD', kind: 'encrypted-drive', encrypted: true }
    });
    await ledger.append('derivation', {
      parents: [out],
      outputs: [retopo],
      tool: { name: 'Blender', version: '4.5' },
      operation: 'retopology'
    });
    await ledger.append('handoff', { files: [retopo], recipient: { name: 'Client Co' } });
    await ledger.append('generation', generationBody()); // unrelated
    const chain = ledger.trace(retopo.sha256).map((e) => e.event.type);
    expect(chain).toEqual(['generation', 'export', 'derivation', 'handoff']);
    expect(ledger.trace('cd'.repeat(32))).toEqual([]);
  });

  it('queries by type, project, platform, text and time', async () => {
    const { ledger } = await newLedger();
    await ledger.append('generation', generationBody({ project: 'Alpha', platform: { name: 'Meshy' } }));
    await ledger.append('generation', generationBody({ project: 'Beta' }));
    expect(ledger.query({ types: ['generation'] })).toHaveLength(2);
    expect(ledger.query({ project: 'alpha' })).toHaveLength(1);
    expect(ledger.query({ platform: 'Meshy' })).toHaveLength(1);
    expect(ledger.query({ text: 'beta' })).toHaveLength(1);
    expect(ledger.query({ text: 'nothing like this' })).toHaveLength(0);
  });

  it('accepts valid events from another device and rejects forged ones, storing nothing invalid', async () => {
    const { ledger, storage, signer } = await newLedger();
    // A second device holding a copy of the same ledger appends.
    const copy = new MemoryStorage();
    for (const c of await storage.loadRange([])) await copy.save(c.key, c.data);
    const other = await Ledger.open({ storage: copy, signer });
    const ev = await other.append('generation', generationBody());
    const json = JSON.stringify({ event: ev.event, sig: ev.sig });
    const canonical = (await import('../../../src/lib/core/canonical.ts')).canonicalJson(JSON.parse(json));
    const forgedEvent = { ...ev.event, body: { ...(ev.event.body as object), project: 'Stolen' } };
    const forged = (await import('../../../src/lib/core/canonical.ts')).canonicalJson({
      event: forgedEvent,
      sig: ev.sig
    });
    const forgedId = (await import('../../../src/lib/core/event.ts')).eventId;
    const fid = await forgedId(forgedEvent as any);
    const res = await ledger.receive([
      [ev.id, canonical],
      [`${ev.id}.git`, other.journalSignature(ev.id)!], // its journal commit signature travels with it
      [fid, forged]
    ]);
    expect(res.accepted).toEqual([ev.id]);
    expect(res.problems).toEqual([expect.objectContaining({ code: 'SIGNATURE_INVALID', eventId: fid })]);
    expect(ledger.get(fid)).toBeUndefined();
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('with allOrNothing, one refused event means nothing is stored (a pull, an import)', async () => {
    const { ledger, storage, signer } = await newLedger();
    const { ledger: other } = await forkDevice(ledger, signer); // a second device holding a copy
    const good = await other.append('generation', generationBody());
    const bad = await other.append('generation', generationBody());
    const { canonicalJson } = await import('../../../src/lib/core/canonical.ts');
    const forgedEnvelope = canonicalJson({
      event: { ...bad.event, body: { ...(bad.event.body as object), project: 'Stolen' } },
      sig: bad.sig
    });
    const entries: Array<[string, string]> = [
      [good.id, other.envelopeJson(good.id)!],
      [`${good.id}.git`, other.journalSignature(good.id)!],
      [bad.id, forgedEnvelope]
    ];
    const saved = JSON.stringify(await storage.loadRange([]));
    const res = await ledger.receive(entries, { allOrNothing: true });
    expect(res.accepted).toEqual([]);
    expect(res.problems.map((p) => [p.code, p.eventId])).toEqual([
      ['ID_MISMATCH', bad.id],
      ['SIGNATURE_INVALID', bad.id]
    ]);
    expect(ledger.get(good.id)).toBeUndefined();
    expect(ledger.size).toBe(1);
    expect(JSON.stringify(await storage.loadRange([]))).toBe(saved);
    // Without the forgery, the same call stores the good event.
    expect((await ledger.receive(entries.slice(0, 2), { allOrNothing: true })).accepted).toEqual([good.id]);
  });

  it("dates an event after its parents, even when the device clock goes back (its newest parent's time plus 1 ms)", async () => {
    const storage = new MemoryStorage();
    const signer = await newSigner();
    const times = ['2026-11-01T10:00:00.000Z', '2026-11-01T12:00:00.000Z', '2026-11-01T09:00:00.000Z'];
    let i = 0;
    const ledger = await Ledger.create({
      storage,
      signer,
      memberName: 'Ada',
      ledgerName: 'S',
      now: () => new Date(times[Math.min(i++, 2)])
    });
    await ledger.append('generation', generationBody());
    const late = await ledger.append('generation', generationBody());
    expect(late.event.time).toBe('2026-11-01T12:00:00.001Z');
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('rejects a received event dated before its parent (TIME_BEFORE_PARENT)', async () => {
    const { ledger, signer } = await newLedger();
    const { signEvent } = await import('../../../src/lib/core/event.ts');
    const event = {
      spec: 'provenance-ledger/event/v1',
      type: 'generation',
      ledger: ledger.id,
      author: signer.publicKey,
      time: '2000-01-01T00:00:00.000Z',
      parents: ledger.heads(),
      body: generationBody()
    } as any;
    const { id, bytes } = await signEvent(event, signer);
    const res = await ledger.receive([[id, new TextDecoder().decode(bytes)]]);
    expect(res.accepted).toEqual([]);
    expect(res.problems).toEqual([expect.objectContaining({ code: 'TIME_BEFORE_PARENT', eventId: id })]);
    expect(ledger.get(id)).toBeUndefined();
  });

  it('refuses an id that arrives twice with different contents, whichever copy is genuine', async () => {
    const { ledger, storage, signer } = await newLedger();
    const copy = new MemoryStorage();
    for (const c of await storage.loadRange([])) await copy.save(c.key, c.data);
    const other = await Ledger.open({ storage: copy, signer });
    const ev = await other.append('generation', generationBody());
    const { canonicalJson } = await import('../../../src/lib/core/canonical.ts');
    const genuine = canonicalJson({ event: ev.event, sig: ev.sig });
    const badSig = ev.sig.slice(0, 10) + (ev.sig[10] === 'A' ? 'B' : 'A') + ev.sig.slice(11);
    const forged = canonicalJson({ event: ev.event, sig: badSig });
    for (const order of [
      [genuine, forged],
      [forged, genuine]
    ]) {
      const res = await ledger.receive(order.map((j) => [ev.id, j] as [string, string]));
      expect(res.accepted).toEqual([]);
      expect(res.problems).toEqual([expect.objectContaining({ code: 'DUPLICATE_EVENT', eventId: ev.id })]);
      expect(ledger.get(ev.id)).toBeUndefined();
    }
    const ok = await ledger.receive([
      [ev.id, genuine],
      [ev.id, genuine]
    ]);
    expect(ok.accepted).toEqual([ev.id]);
  });
});
