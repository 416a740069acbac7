/** Witnessing: cosign only a log that has grown; refuse and report a log that shrank, forked or is unknown. */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { utf8 } from '../../../src/lib/core/bytes.ts';
import { toBase64 } from '../../../src/lib/core/bytes.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import {
  makeWitnessRequest,
  parseWitnessRequest,
  witnessCheckpoint,
  type WitnessState
} from '../../../src/lib/core/proofs/witness.ts';
import { logVerifierKey } from '../../../src/lib/core/proofs/keys.ts';
import { generationBody, newSigner } from '../helpers/ledger.ts';
import { makeTeam, type Team } from './helpers.ts';

const members = (t: Team) =>
  t.grace.ledger
    .roster()
    .filter((m) => m.active)
    .map((m) => m.key);

async function witnessAda(t: Team, previous?: WitnessState, note?: string, proof?: string[]) {
  note ??= await t.ada.log.checkpoint(t.ada.ledger.id, t.ada.signer);
  proof ??=
    previous && previous.size < t.ada.log.size ? t.ada.log.consistencyProof(previous.size).map((h) => toBase64(h)) : [];
  return witnessCheckpoint({
    ledgerId: t.grace.ledger.id,
    memberKeys: members(t),
    note,
    proof,
    previous,
    signer: t.grace.signer,
    now: () => 1_790_000_000
  });
}

describe('witness', () => {
  it('cosigns a first checkpoint, then a grown one after checking consistency', async () => {
    const t = await makeTeam();
    const first = await witnessAda(t);
    expect(first.state.size).toBe(5);
    await t.ada.ledger.append('generation', generationBody());
    await t.ada.ledger.append('generation', generationBody());
    await t.ada.log.settled();
    const second = await witnessAda(t, first.state);
    expect(second.state.size).toBe(7);
    expect(second.note).toContain('provenance-ledger-witness/');
    // The cosigned note goes back to the log; its checkpoint now carries both signatures.
    await t.ada.log.addCosignatures(second.note);
    expect((await t.ada.log.checkpointNote(7))!.split('\n— ')).toHaveLength(3);
  });

  it('refuses a log that shrank (events dropped), keeping both checkpoints as evidence', async () => {
    const t = await makeTeam();
    const first = await witnessAda(t);
    const shrunk = await DeviceLog.load(new MemoryStorage());
    await shrunk.append(t.ada.ledger.events().slice(0, 3));
    const note = await shrunk.checkpoint(t.ada.ledger.id, t.ada.signer);
    const err = await witnessAda(t, first.state, note, []).catch((e) => e);
    expect(err).toMatchObject({ code: 'WITNESS_ROLLBACK', detail: { previous: first.note, offered: note } });
    expect(err.message).toMatch(/shrank from 5 to 3/);
  });

  it('refuses a fork: a log of more entries that is not an extension of the cosigned one', async () => {
    const t = await makeTeam();
    const first = await witnessAda(t);
    await t.ada.ledger.append('generation', generationBody());
    await t.ada.log.settled();
    const all = t.ada.ledger.events();
    const forked = await DeviceLog.load(new MemoryStorage());
    await forked.append([all[0], all[1], all[3], all[2], ...all.slice(4)]); // two events swapped
    const note = await forked.checkpoint(t.ada.ledger.id, t.ada.signer);
    const proof = forked.consistencyProof(5).map((h) => toBase64(h));
    await expect(witnessAda(t, first.state, note, proof)).rejects.toMatchObject({ code: 'WITNESS_FORK' });
    // Same size, other root: a fork too.
    const same = await DeviceLog.load(new MemoryStorage());
    await same.append([all[1], all[0], ...all.slice(2, 5)]);
    await expect(
      witnessAda(t, first.state, await same.checkpoint(t.ada.ledger.id, t.ada.signer), [])
    ).rejects.toMatchObject({ code: 'WITNESS_FORK' });
  });

  it('refuses a checkpoint from a key that is not a member, and a bad signature', async () => {
    const t = await makeTeam();
    const stranger = await newSigner();
    const log = await DeviceLog.load(new MemoryStorage());
    await log.append(t.ada.ledger.events());
    await expect(witnessAda(t, undefined, await log.checkpoint(t.ada.ledger.id, stranger))).rejects.toMatchObject({
      code: 'WITNESS_UNKNOWN_LOG'
    });
    const note = await t.ada.log.checkpoint(t.ada.ledger.id, t.ada.signer);
    const bad = note.replace(/\n(\d+)\n/, (_m, n) => `\n${Number(n) + 1}\n`);
    await expect(witnessAda(t, undefined, bad)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID' });
  });

  it('exchanges a request file: checkpoint + consistency proofs, parsed defensively', async () => {
    const t = await makeTeam();
    const note = await t.ada.log.checkpoint(t.ada.ledger.id, t.ada.signer);
    const req = makeWitnessRequest(
      note,
      await logVerifierKey(t.ada.ledger.id, t.ada.signer.publicKey),
      new Map([[3, t.ada.log.consistencyProof(3)]])
    );
    const back = parseWitnessRequest(utf8(JSON.stringify(req)));
    expect(back.consistency['3']).toHaveLength(t.ada.log.consistencyProof(3).length);
    for (const bad of [
      '{',
      '[]',
      JSON.stringify({ ...req, format: 'x' }),
      JSON.stringify({ ...req, extra: 1 }),
      JSON.stringify({ ...req, consistency: { '01': [] } })
    ]) {
      expect(() => parseWitnessRequest(utf8(bad))).toThrow(/invalid witness request/);
    }
  });
});
