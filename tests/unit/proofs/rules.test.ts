/**
 * The statements a skeptic could knock down, each with a bundle built to break its rule (ledger-schema/README.md
 * sections 16-17): a witness removed before it cosigned, a removed device's log, a device cosigning its own log,
 * another device of the log's own member, a cosignature dated before the events, a pinned ledger id, re-formatted
 * files, a wrong file beside a valid bundle, and the complete upstream chain of a derived file.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { serializeBundle, type Bundle } from '../../../src/lib/core/proofs/bundle.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle, type BundleResult } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { describeFacts } from '../../../src/lib/core/proofs/report.ts';
import { witnessCosigner, witnessVerifierKey } from '../../../src/lib/core/proofs/keys.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { isProofError } from '../../../src/lib/core/proofs/errors.ts';
import { openCheckpoint } from '../../../src/lib/core/merkle/checkpoint.ts';
import { cosignCheckpoint } from '../../../src/lib/core/merkle/cosignature.ts';
import { createEd25519Verifier } from '../../../src/lib/core/merkle/note.ts';
import { logVerifierKey } from '../../../src/lib/core/proofs/keys.ts';
import type { Ledger } from '../../../src/lib/core/ledger.ts';
import type { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import { generationBody, newSigner } from '../helpers/ledger.ts';
import { makeTeam, MODEL_SHA, type Team } from './helpers.ts';
import { witnessedBundle, type BundleFixture } from './bundle-fixture.ts';

const codes = (r: BundleResult) => r.failures.map((f) => `${f.code} ${f.location}`);
const decode = (b: Uint8Array): Bundle => JSON.parse(new TextDecoder().decode(b));
const words = (r: BundleResult) => describeFacts(r.facts!).join('\n');
const SUBJECT = { sha256: MODEL_SHA, name: 'model.glb' };

/** Cosigns the log's newest checkpoint with `witness` (no roster check: the rule under test is the verifier's). */
async function cosignNewest(
  ledger: Ledger,
  log: DeviceLog,
  logSigner: Signer,
  witness: Signer,
  seconds: number
): Promise<void> {
  const note = await log.checkpoint(ledger.id, logSigner);
  const opened = await openCheckpoint(
    note,
    await createEd25519Verifier(await logVerifierKey(ledger.id, logSigner.publicKey))
  );
  await log.addCosignatures(
    await cosignCheckpoint(opened.note, await witnessCosigner(ledger.id, witness, () => seconds))
  );
}

/** A bundle about model.glb from Ada's log naming `witnesses` (their cosignatures on the checkpoint are kept). */
async function bundleWith(team: Team, witnesses: Signer[]): Promise<Uint8Array> {
  const { bundle } = await buildBundle({
    ledger: team.ada.ledger,
    log: team.ada.log,
    logPublicKey: team.ada.signer.publicKey,
    subject: SUBJECT,
    allowUnwitnessed: true
  });
  bundle.witnessKeys = await Promise.all(witnesses.map((w) => witnessVerifierKey(team.ada.ledger.id, w.publicKey)));
  return serializeBundle(bundle);
}

let fx: BundleFixture;
beforeAll(async () => {
  fx = await witnessedBundle();
});

describe('who may witness', () => {
  it('a witness removed by an event the checkpoint covers is refused (WITNESS_REMOVED), and prove does not use it', async () => {
    const team = await makeTeam();
    const { ledger, log, signer } = team.ada;
    const grace = ledger.member(team.grace.signer.publicKey)!;
    await ledger.append('member', {
      action: 'remove',
      member: { id: grace.memberId, name: grace.name, key: grace.key, role: grace.role }
    });
    // A retopology of model.glb recorded after the removal: the removal is in its past, so the bundle includes it.
    await ledger.append('derivation', {
      parents: [{ name: 'model.glb', format: 'glb', size: 4096, sha256: MODEL_SHA }],
      outputs: [{ name: 'model-retopo.glb', format: 'glb', size: 2048, sha256: 'b2'.repeat(32) }],
      tool: { name: 'Blender', version: '4.5' },
      operation: 'retopology'
    });
    await log.settled();
    await cosignNewest(ledger, log, signer, team.grace.signer, 1_900_000_000);
    // prove leaves the removed member's cosignature out (the checkpoint is then unwitnessed).
    await expect(buildBundle({ ledger, log, logPublicKey: signer.publicKey, subject: SUBJECT })).rejects.toSatisfy(
      (e) => isProofError(e, 'NO_CHECKPOINT')
    );
    const forged = await bundleWith(team, [team.grace.signer]);
    const r = await verifyBundle(forged);
    expect(codes(r)).toEqual(['WITNESS_REMOVED witnessKeys[0]']);
    expect(r.failures[0].message).toMatch(/Grace .* was removed by event [0-9a-f]{64}, which the checkpoint covers/);
  });

  it('a device cosigning its own log is refused by the witness and by the verifier (WITNESS_IS_LOG)', async () => {
    const team = await makeTeam();
    const { ledger, log, signer } = team.ada;
    const note = await log.checkpoint(ledger.id, signer);
    await expect(
      witnessCheckpoint({
        ledgerId: ledger.id,
        memberKeys: ledger.roster().map((m) => m.key),
        note,
        proof: [],
        signer,
        now: () => 1_900_000_000
      })
    ).rejects.toThrow(/does not witness itself/);
    await cosignNewest(ledger, log, signer, signer, 1_900_000_000);
    const r = await verifyBundle(await bundleWith(team, [signer]));
    expect(codes(r)).toEqual(['WITNESS_IS_LOG witnessKeys[0]']);
  });

  it("another device of the log's own member is stated as such, not as an independent witness", async () => {
    const team = await makeTeam();
    const { ledger, log, signer } = team.ada;
    const laptop = await newSigner();
    await ledger.append('member', {
      action: 'add',
      member: { id: 'ada', name: 'Ada', key: laptop.publicKey, role: 'owner' }
    });
    await log.settled();
    await cosignNewest(ledger, log, signer, laptop, 1_900_000_000);
    const { bytes } = await buildBundle({ ledger, log, logPublicKey: signer.publicKey, subject: SUBJECT });
    const r = await verifyBundle(bytes);
    expect(r.failures).toEqual([]);
    expect(r.facts!.cosignatures.map((c) => c.sameMember)).toEqual([true]);
    expect(words(r)).toMatch(
      /cosigned the checkpoint at .* it is another device of Ada's own member, not an independent witness/
    );
  });

  it("a removed device's log is refused (LOG_KEY_REMOVED), and that device cannot prove", async () => {
    const team = await makeTeam();
    const { ledger: adaLedger } = team.ada;
    const { ledger, log, signer } = team.grace;
    const grace = adaLedger.member(signer.publicKey)!;
    const removal = await adaLedger.append('member', {
      action: 'remove',
      member: { id: grace.memberId, name: grace.name, key: grace.key, role: grace.role }
    });
    const retopo = await adaLedger.append('derivation', {
      parents: [{ name: 'model.glb', format: 'glb', size: 4096, sha256: MODEL_SHA }],
      outputs: [{ name: 'model-retopo.glb', format: 'glb', size: 2048, sha256: 'b2'.repeat(32) }],
      tool: { name: 'Blender' },
      operation: 'retopology'
    });
    const got = await ledger.receive(
      [removal, retopo].map((e) => [e.id, adaLedger.envelopeJson(e.id)!] as [string, string])
    );
    expect(got.accepted).toHaveLength(2);
    await log.settled();
    await cosignNewest(ledger, log, signer, team.ada.signer, 1_900_000_000);
    await expect(buildBundle({ ledger, log, logPublicKey: signer.publicKey, subject: SUBJECT })).rejects.toThrow(
      /this device was removed/
    );
    // The same bundle built as if the removal were unknown to the prover: the verifier refuses it.
    const blind = new Proxy(ledger, {
      get(t, p) {
        if (p === 'member') return (k: string) => ({ ...t.member(k)!, active: true });
        const v = Reflect.get(t, p, t);
        return typeof v === 'function' ? v.bind(t) : v;
      }
    });
    await expect(buildBundle({ ledger: blind, log, logPublicKey: signer.publicKey, subject: SUBJECT })).rejects.toThrow(
      /LOG_KEY_REMOVED logKey/
    );
  });
});

describe('what time a bundle can claim', () => {
  it('a cosignature dated before the events it covers bounds nothing, and no "no later than" is said', async () => {
    const team = await makeTeam();
    const { ledger, log, signer } = team.ada;
    await cosignNewest(ledger, log, signer, team.grace.signer, 1_000_000_000); // 2001-09-09
    const { bytes } = await buildBundle({ ledger, log, logPublicKey: signer.publicKey, subject: SUBJECT });
    const r = await verifyBundle(bytes);
    expect(r.failures).toEqual([]);
    expect(r.facts!.cosignatures[0].beforeEvents).toBeDefined();
    const text = words(r);
    expect(text).toContain('with the time 2001-09-09T01:46:40Z, before the time');
    expect(text).toContain('its time bounds nothing');
    expect(text).not.toMatch(/no later than/);
    expect(text).toContain('No trusted time-stamp covers these events: nothing here proves when they existed.');
  });

  it('keeps what is proven apart from what is claimed', async () => {
    const r = await verifyBundle(fx.bytes);
    const text = words(r);
    const proven = text.indexOf('Proven (by signatures and hashes):');
    const claimed = text.indexOf('Claimed, not proven by this bundle:');
    expect(proven).toBeGreaterThan(0);
    expect(claimed).toBeGreaterThan(proven);
    expect(text.slice(claimed)).toMatch(
      /Grace \(key [0-9a-f]{16}\) cosigned the checkpoint at 2027-01-15T08:00:00Z by its own clock/
    );
    expect(text.slice(claimed)).toContain("Each event's time is its author's own clock.");
    expect(text.slice(proven, claimed)).not.toMatch(/cosigned|no later than/);
  });
});

describe('the ledger id, re-formatted files, the wrong file', () => {
  it('--expect-ledger pins the ledger id', async () => {
    const other = 'ab'.repeat(32);
    expect(codes(await verifyBundle(fx.bytes, [], { expectLedger: other }))).toEqual(['LEDGER_UNEXPECTED ledger']);
    const pinned = await verifyBundle(fx.bytes, [], { expectLedger: decode(fx.bytes).ledger });
    expect(pinned.failures).toEqual([]);
    expect(words(pinned)).not.toContain("are the bundle's own");
    expect(words(await verifyBundle(fx.bytes))).toContain("The ledger id and its creator's key");
  });

  it('a BOM before and whitespace after are ignored with a notice; a change inside is not', async () => {
    const text = new TextDecoder().decode(fx.bytes);
    const enc = (s: string) => new TextEncoder().encode(s);
    const bom = await verifyBundle(new Uint8Array([0xef, 0xbb, 0xbf, ...fx.bytes]));
    expect(bom.failures).toEqual([]);
    expect(bom.notices[0]).toMatch(/a UTF-8 byte order mark before it/);
    const crlf = await verifyBundle(enc(text + '\r\n'));
    expect(crlf.failures).toEqual([]);
    expect(crlf.notices[0]).toMatch(/2 whitespace byte\(s\) after it/);
    const inside = await verifyBundle(enc(text.replace('","', '",\r\n"')));
    expect(codes(inside)).toEqual(['BUNDLE_MALFORMED bundle']);
    const before = await verifyBundle(enc(' ' + text));
    expect(codes(before)).toEqual(['BUNDLE_MALFORMED bundle']);
  });

  it('a valid bundle with the wrong file: the bundle stays valid, the file is named as not the one', async () => {
    const r = await verifyBundle(fx.bytes, [{ name: 'other.glb', sha256: 'ff'.repeat(32) }]);
    expect(r.bundleOk).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual([
      {
        code: 'FILE_NOT_IN_BUNDLE',
        location: 'other.glb',
        message: expect.stringMatching(/not the file the bundle is about/)
      }
    ]);
    expect(describeFacts(r.facts!).length).toBeGreaterThan(5);
  });
});

describe('the complete chain of a derived file', () => {
  it('states the generation it came from, the policy and checklist it cites, the export, every step, the handoff and the deletion', async () => {
    const team = await makeTeam();
    const { ledger, log, signer } = team.ada;
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
    const checklist = await ledger.append('checklist', {
      project: 'Owls',
      classification: 'client',
      policySnapshots: [policy.id],
      items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
    });
    const raw = { name: 'owl.glb', format: 'glb', size: 4096, sha256: 'b1'.repeat(32) };
    const retopo = { name: 'owl-retopo.fbx', format: 'fbx', size: 2048, sha256: 'b2'.repeat(32) };
    const textured = { name: 'owl-final.fbx', format: 'fbx', size: 4096, sha256: 'b3'.repeat(32) };
    const gen = await ledger.append(
      'generation',
      generationBody({
        platform: { name: 'Meshy', modelVersion: 'meshy-5' },
        mode: 'image-to-3d',
        outputs: [raw],
        project: 'Owls',
        checklist: checklist.id,
        policySnapshots: [policy.id]
      })
    );
    await ledger.append('export', {
      generation: gen.id,
      files: [raw],
      destination: { label: 'Vault SSD', kind: 'encrypted-drive', encrypted: true }
    });
    await ledger.append('derivation', {
      parents: [raw],
      outputs: [retopo],
      tool: { name: 'Blender', version: '4.5' },
      operation: 'retopology'
    });
    await ledger.append('derivation', {
      parents: [retopo],
      outputs: [textured],
      tool: { name: 'Substance Painter' },
      operation: 'texturing'
    });
    await ledger.append('handoff', { files: [textured], recipient: { name: 'Client Co' } });
    await ledger.append('deletion', {
      platform: { name: 'Meshy' },
      target: { generation: gen.id },
      status: 'confirmed'
    });
    await log.settled();
    await cosignNewest(ledger, log, signer, team.grace.signer, 1_900_000_000);
    const { bytes, bundle } = await buildBundle({
      ledger,
      log,
      logPublicKey: signer.publicKey,
      subject: { sha256: textured.sha256, name: textured.name }
    });
    const r = await verifyBundle(bytes);
    expect(r.failures).toEqual([]);
    // genesis, Grace's add (not needed: no), policy, checklist, generation, export, 2 derivations, handoff, deletion
    const types = bundle.events.map((e) => JSON.parse(e.envelope).event.type);
    for (const t of ['policy-snapshot', 'checklist', 'generation', 'export', 'derivation', 'handoff', 'deletion'])
      expect(types).toContain(t);
    const text = words(r);
    expect(text).toContain(
      `Origin: made from the output of an AI generation on Meshy (generation ${gen.id.slice(0, 16)}…), through 2 recorded step(s): retopology in Blender 4.5`
    );
    expect(text).toMatch(/texturing in Substance Painter → owl-final\.fbx/);
    expect(text).toMatch(
      /Generation [0-9a-f]{16}… on Meshy \(model meshy-5\), image to 3D, .*outputs owl\.glb .*settings claimed: training opt-out on, privacy mode on.*cites checklist [0-9a-f]{16}… and policy snapshots/
    );
    expect(text).toMatch(
      /Policy snapshot [0-9a-f]{16}…: Meshy privacy policy retrieved at 2026-11-01T08:00:00.000Z .*training on inputs not stated/
    );
    expect(text).toMatch(/Checklist [0-9a-f]{16}… for project "Owls" \(client\)/);
    expect(text).toMatch(/Export of owl\.glb .* to "Vault SSD" \(encrypted-drive, encrypted\)/);
    expect(text).toMatch(/owl-final\.fbx \(sha256 [0-9a-f]{64}\) was handed to Client Co/);
    expect(text).toMatch(/Cloud copy on Meshy of generation [0-9a-f]{16}…: deletion confirmed/);
    expect(text).not.toContain('No deletion of the cloud copy');
  });
});
