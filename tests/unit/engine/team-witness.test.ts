/**
 * Witnessing at sync as the Team page shows it (engine/team.ts status, peers): after two devices sync, each
 * peer row says up to which size the peer cosigned this device's log, and up to which size this device cosigned
 * the peer's; the sizes are the logs' own (one leaf per event the device holds).
 */
import { describe, expect, it } from 'vitest';
import { generationBody } from '../helpers/ledger.ts';
import { settings, team, until, useRelay } from './team-fixture.ts';

useRelay();

describe('team service: witnessing in the peers table', () => {
  it('each device sees that the other cosigned its log, and that it cosigned the other’s', async () => {
    const [ada, bea] = await team('Bea');
    await ada.host.ledger().append('generation', generationBody({ project: 'Witnessed' }));
    // Before any sync no peer is listed, so nothing is witnessed.
    expect((await ada.team.status()).peers).toEqual([]);
    for (const d of [ada, bea]) await d.team.start(settings());
    const total = ada.host.ledger().size;
    await until(
      'both devices to hold every event',
      () => bea.host.ledger().size === total && ada.host.ledger().size === total
    );
    const peerOf = async (d: typeof ada, name: string) => (await d.team.status()).peers.find((p) => p.name === name);
    // Each log holds one leaf per event its device learned: once synced, every event. Both directions, both devices.
    for (const [d, other] of [
      [ada, 'Bea'],
      [bea, 'Ada']
    ] as const) {
      const p = await until(
        `${other}'s row on ${d.name}'s page to show both cosignatures at size ${total}`,
        async () => {
          const row = await peerOf(d, other);
          return row?.witnessed === total && row.cosigned === total && row;
        }
      );
      expect(p).toMatchObject({ online: true, witnessed: total, cosigned: total });
    }
  });
});
