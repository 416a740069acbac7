import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { memoryRoom } from '../../../src/lib/core/sync/transport.ts';
import type { SyncReport } from '../../../src/lib/core/sync/hub.ts';
import { generationBody } from '../helpers/ledger.ts';
import { hubFor, team, until } from './helpers.ts';

const sameHeads = (a: A.Doc<unknown>, b: A.Doc<unknown>) => A.getHeads(a).sort().join() === A.getHeads(b).sort().join();

describe('SyncHub over an in-memory room', () => {
  it('two devices that appended offline converge: nothing lost, nothing doubled, same Automerge heads', async () => {
    const {
      devices: [a, b],
      team: t,
      room
    } = await team(2);
    for (let i = 0; i < 20; i++) await a.ledger.append('generation', generationBody());
    for (let i = 0; i < 15; i++) await b.ledger.append('generation', generationBody());
    const before = a.ledger.size + b.ledger.size - 2; // genesis + member add are shared
    const r = memoryRoom();
    const ra: SyncReport[] = [];
    const rb: SyncReport[] = [];
    const ha = await hubFor(a, t, room, r.join(), ra);
    const hb = await hubFor(b, t, room, r.join(), rb);
    await until(() => a.ledger.size === before && b.ledger.size === before, 10_000, 'convergence');
    await until(() => ha.quiet(100) && hb.quiet(100));
    expect(a.ledger.heads()).toEqual(b.ledger.heads());
    expect(sameHeads(a.ledger.doc, b.ledger.doc)).toBe(true);
    expect(A.getAllChanges(a.ledger.doc).length).toBe(A.getAllChanges(b.ledger.doc).length);
    expect([...ra, ...rb].filter((x) => x.type === 'rejected')).toEqual([]);
    expect((await a.ledger.verify()).ok).toBe(true);
    expect((await b.ledger.verify()).ok).toBe(true);
    // A new event reaches the connected peer.
    await a.ledger.append('generation', generationBody());
    ha.poke();
    await until(() => b.ledger.size === before + 1, 5000, 'live event');
    // Sync states are persisted per peer.
    await ha.close();
    await hb.close();
    expect((await a.storage.listKeys(['sync'])).length).toBe(1);
  });

  it('three devices converge', async () => {
    const { devices, team: t, room } = await team(3);
    for (const d of devices) for (let i = 0; i < 5; i++) await d.ledger.append('generation', generationBody());
    const r = memoryRoom();
    const hubs = await Promise.all(devices.map((d) => hubFor(d, t, room, r.join())));
    const total = 2 + 1 + 15; // genesis, two adds, 15 generations
    await until(() => devices.every((d) => d.ledger.size === total), 10_000, 'convergence of three');
    await until(() => hubs.every((h) => h.quiet(100)));
    for (const d of devices) expect(d.ledger.heads()).toEqual(devices[0].ledger.heads());
    for (const d of devices) expect(sameHeads(d.ledger.doc, devices[0].ledger.doc)).toBe(true);
  });
});
