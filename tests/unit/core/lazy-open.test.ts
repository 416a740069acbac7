import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import type { LedgerEvent } from '../../../src/lib/core/event.ts';
import { readFrame } from '../../../src/lib/core/stored-event.ts';
import { entryOf, setEntry } from '../helpers/doc-edit.ts';
import { generationBody, newLedger, newSigner } from '../helpers/ledger.ts';

/** A ledger with an event of every type the core appends, strings with escapes and non-ASCII text in bodies. */
async function everyType() {
  const made = await newLedger();
  const { ledger } = made;
  const bob = await newSigner();
  await ledger.append('member', {
    action: 'add',
    member: { id: 'bob', name: 'Bob "B" Ø', key: bob.publicKey, role: 'member' }
  });
  const policy = await ledger.append('policy-snapshot', {
    platform: { name: 'Meshy' },
    kind: 'privacy-policy',
    retrievedAt: '2026-11-01T08:00:00.000Z',
    text: { sha256: 'c3'.repeat(32), size: 1000, mediaType: 'text/plain' },
    answers: {
      trainingOnInputs: { answer: 'not-stated' },
      trainingOnOutputs: { answer: 'no' },
      optOutAvailable: { answer: 'yes' },
      retentionAfterDeletion: { answer: 'unclear' },
      thirdPartySharing: { answer: 'unclear' },
      internalAccess: { answer: 'not-stated' }
    }
  });
  await ledger.append('checklist', {
    project: 'Owls',
    classification: 'client',
    policySnapshots: [policy.id],
    items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
  });
  const gen = await ledger.append(
    'generation',
    generationBody({ project: 'Owls "night" \\ \u00e9t\u00e9 \u{1f989}', policySnapshots: [policy.id] })
  );
  const out = (gen.event.body as { outputs: Array<{ sha256: string }> }).outputs[0];
  const retopo = { name: 'owl-retopo.fbx', format: 'fbx', size: 2048, sha256: 'b2'.repeat(32) };
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
  await ledger.append('deletion', { platform: { name: 'Meshy' }, target: { generation: gen.id }, status: 'confirmed' });
  await ledger.append('generation', generationBody({ project: 'Owls' }));
  await ledger.flushed();
  return { ...made, gen, out, retopo };
}

/** A ledger stored as one snapshot of a document, opened as a device would (damage allowed, as verify needs). */
async function fromDoc(doc: A.Doc<unknown>): Promise<{ storage: MemoryStorage; ledger: Ledger }> {
  await initHash();
  const storage = new MemoryStorage();
  const bytes = A.save(doc);
  await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  return { storage, ledger: await Ledger.open({ storage, allowProblems: true }) };
}

const plain = (evs: LedgerEvent[]) => evs.map((e) => ({ id: e.id, event: e.event, sig: e.sig }));

describe('opening reads stored events lazily', () => {
  it('gives the same events, order, heads, roster, trace and query results as the events appended', async () => {
    const { ledger, storage, signer, out, retopo } = await everyType();
    const again = await Ledger.open({ storage, signer });
    // Every stored envelope was read by its frame, not parsed whole.
    for (const e of again.events()) expect(readFrame(again.envelopeJson(e.id)!)).toBeDefined();
    expect(again.events().every((e) => typeof Object.getOwnPropertyDescriptor(e, 'event')?.get === 'function')).toBe(
      true
    );
    expect(again.heads()).toEqual(ledger.heads());
    expect(again.roster()).toEqual(ledger.roster());
    expect(again.events().map((e) => e.id)).toEqual(ledger.events().map((e) => e.id));
    expect(plain(again.events())).toEqual(plain(ledger.events()));
    // Each event is the parse of its stored envelope.
    for (const e of again.events())
      expect({ event: e.event, sig: e.sig }).toEqual(JSON.parse(again.envelopeJson(e.id)!));
    for (const h of [out.sha256, retopo.sha256])
      expect(again.trace(h).map((e) => e.id)).toEqual(ledger.trace(h).map((e) => e.id));
    expect(again.trace(retopo.sha256).map((e) => e.event.type)).toEqual([
      'policy-snapshot',
      'generation',
      'export',
      'derivation',
      'handoff',
      'deletion'
    ]);
    for (const f of [{ types: ['generation' as const] }, { project: 'owls' }, { text: 'été' }, { platform: 'Meshy' }])
      expect(again.query(f).map((e) => e.id)).toEqual(ledger.query(f).map((e) => e.id));
    expect(again.query({ text: 'été' })).toHaveLength(1);
    expect((await again.verify()).ok).toBe(true);
    // A reopened ledger appends after the events it read.
    const next = await again.append('generation', generationBody());
    expect(next.event.parents).toEqual(ledger.heads());
  });

  it('keeps `event` visible to spreading, JSON and structured clone (events cross postMessage)', async () => {
    const { ledger, storage } = await everyType();
    const again = await Ledger.open({ storage });
    const want = plain(ledger.events());
    expect(again.events().map((e) => ({ ...e }))).toEqual(want);
    expect(JSON.parse(JSON.stringify(again.events()))).toEqual(want);
    expect(structuredClone(again.events())).toEqual(want);
    expect(Object.keys(again.events()[0])).toEqual(['id', 'event', 'sig']);
  });
});

describe('a damaged stored envelope', () => {
  it('that is not JSON is left out at open, as before, and verify reports it', async () => {
    const { ledger, gen } = await everyType();
    const doc = A.change(A.clone(ledger.doc), (d) => setEntry(d, gen.id, entryOf(d, gen.id)!.slice(0, -40)));
    const { ledger: opened } = await fromDoc(doc);
    expect(opened.get(gen.id)).toBeUndefined();
    expect(opened.size).toBe(ledger.size - 1);
    const report = await opened.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ code: 'MALFORMED_EVENT', eventId: gen.id }));
  });

  it('that is JSON but not canonical is parsed whole at open, as before, and verify reports it', async () => {
    const { ledger, gen } = await everyType();
    const reordered = (json: string) => {
      const env = JSON.parse(json);
      return JSON.stringify({ sig: env.sig, event: env.event });
    };
    const doc = A.change(A.clone(ledger.doc), (d) => setEntry(d, gen.id, reordered(entryOf(d, gen.id)!)));
    const { ledger: opened } = await fromDoc(doc);
    expect(readFrame(opened.envelopeJson(gen.id)!)).toBeUndefined();
    expect(opened.get(gen.id)).toEqual({ id: gen.id, event: gen.event, sig: gen.sig });
    expect(opened.heads()).toEqual(ledger.heads());
    const report = await opened.verify();
    expect(report.problems).toContainEqual(expect.objectContaining({ code: 'NOT_CANONICAL', eventId: gen.id }));
  });

  it('that is not JSON inside a canonical frame is indexed by its frame; reading it is STORAGE_CORRUPT', async () => {
    const { ledger, gen } = await everyType();
    const broken = (json: string) => json.replace('"mode":', '"mode"');
    const doc = A.change(A.clone(ledger.doc), (d) => setEntry(d, gen.id, broken(entryOf(d, gen.id)!)));
    const { ledger: opened } = await fromDoc(doc);
    expect(readFrame(opened.envelopeJson(gen.id)!)).toBeDefined();
    expect(opened.heads()).toEqual(ledger.heads());
    expect(opened.get(gen.id)?.sig).toBe(gen.sig);
    expect(() => opened.get(gen.id)!.event).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
    expect(() => opened.query({ project: 'owls' })).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
    const report = await opened.verify();
    expect(report.problems).toContainEqual(expect.objectContaining({ code: 'MALFORMED_EVENT', eventId: gen.id }));
  });

  it('whose JSON says other than its frame (a member after the event object) is STORAGE_CORRUPT when read', async () => {
    const { ledger, gen } = await everyType();
    // The frame's parents, time and type belong to another object than the event: valid JSON, not the event.
    const moved = (json: string) => {
      const env = JSON.parse(json);
      const { parents, spec, time, type, ledger: l, ...rest } = env.event;
      const head = canonicalJson({ event: rest }).slice(0, -1);
      return `${head},"x":{"a":{},"ledger":${JSON.stringify(l)},"parents":${JSON.stringify(parents)},"spec":"${spec}","time":"${time}","type":"${type}"},"sig":"${env.sig}"}`;
    };
    const doc = A.change(A.clone(ledger.doc), (d) => setEntry(d, gen.id, moved(entryOf(d, gen.id)!)));
    const { ledger: opened } = await fromDoc(doc);
    const json = opened.envelopeJson(gen.id)!;
    expect(readFrame(json)).toBeDefined();
    expect(JSON.parse(json).event.parents).toBeUndefined();
    expect(() => opened.get(gen.id)!.event).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
    expect((await opened.verify()).problems).toContainEqual(
      expect.objectContaining({ code: 'MALFORMED_EVENT', eventId: gen.id })
    );
  });

  it('of a member event that is not JSON is left out at open, as before', async () => {
    const { ledger } = await everyType();
    const add = ledger.events().find((e) => e.event.type === 'member' && e.id !== ledger.id)!;
    const broken = (json: string) => json.replace('"action":', '"action"');
    const doc = A.change(A.clone(ledger.doc), (d) => setEntry(d, add.id, broken(entryOf(d, add.id)!)));
    const { ledger: opened } = await fromDoc(doc);
    expect(opened.get(add.id)).toBeUndefined();
    expect(opened.roster().map((m) => m.name)).toEqual(['Ada']);
    expect((await opened.verify()).problems).toContainEqual(
      expect.objectContaining({ code: 'MALFORMED_EVENT', eventId: add.id })
    );
  });

  it('that is JSON without an event is left out at open (it made open fail before)', async () => {
    const { ledger, gen } = await everyType();
    const doc = A.change(A.clone(ledger.doc), (d) => setEntry(d, gen.id, '{"sig":"x"}'));
    const { ledger: opened } = await fromDoc(doc);
    expect(opened.get(gen.id)).toBeUndefined();
    expect((await opened.verify()).problems).toContainEqual(
      expect.objectContaining({ code: 'MALFORMED_EVENT', eventId: gen.id })
    );
  });
});

describe('readFrame', () => {
  const sig = 'A'.repeat(85) + 'w';
  const env = (event: Record<string, unknown>) => canonicalJson({ event, sig });
  const event = (over: Record<string, unknown> = {}) => ({
    spec: 'provenance-ledger/event/v1',
    type: 'generation',
    author: 'B'.repeat(43),
    time: '2026-11-01T09:00:00.000Z',
    ledger: 'f'.repeat(64),
    parents: ['a'.repeat(64)],
    body: { project: 'x "y" \\ "parents":["' + 'b'.repeat(64) + '"]}' },
    ...over
  });

  it('reads the parents, time, type and sig of canonical envelopes, with or without a ledger', () => {
    for (const parents of [[], ['a'.repeat(64)], ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)]]) {
      expect(readFrame(env(event({ parents })))).toEqual({
        parents,
        time: '2026-11-01T09:00:00.000Z',
        type: 'generation',
        sig
      });
    }
    const { ledger: _, ...genesis } = event({ type: 'member', parents: [] });
    expect(readFrame(env(genesis))).toMatchObject({ parents: [], type: 'member' });
  });

  it('refuses what is not that form', () => {
    const good = env(event());
    const bad = [
      good.replace('"parents":["', '"parents":[ "'),
      good.replace(`"${'a'.repeat(64)}"]`, `"${'a'.repeat(64)}",]`),
      good.replace(`"${'a'.repeat(64)}"]`, `"${'A'.repeat(64)}"]`),
      good.replace('"type":"generation"', '"type":"unknown"'),
      good.replace('09:00:00.000Z', '09:00:00.00"Z'),
      good.replace(sig, sig.slice(1)),
      good.replace('"spec":"provenance-ledger/event/v1"', '"spec":"provenance-ledger/event/v2"'),
      good.slice(0, -1),
      good + ' ',
      env(event({ body: [] })),
      '{"sig":"' + sig + '","event":' + canonicalJson(event()) + '}'
    ];
    for (const b of bad) expect(readFrame(b)).toBeUndefined();
  });
});
