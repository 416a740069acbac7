/** LedgerHost: checklist and policy-snapshot events, policy texts kept locally, glTF sets on generation outputs. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LedgerHost } from '../../../src/lib/engine/host.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';

async function setup() {
  const storage = new MemoryStorage();
  const k = await generateDeviceKey(false);
  const id = { memberName: 'Ada', publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  const host = new LedgerHost({
    init: async () => {},
    openStorage: async () => storage,
    loadIdentity: async () => id,
    ensureIdentity: async () => id
  });
  await host.create('Ada', 'Studio');
  return { host, storage };
}

const answers = {
  trainingOnInputs: { answer: 'no' },
  trainingOnOutputs: { answer: 'yes', excerpt: 'We may use outputs to improve our models.' },
  optOutAvailable: { answer: 'yes' },
  retentionAfterDeletion: { answer: 'yes', days: 30 },
  thirdPartySharing: { answer: 'unclear' },
  internalAccess: { answer: 'not-stated' }
};

describe('LedgerHost records', () => {
  it('keeps a policy text under texts/<sha256> and appends its hash', async () => {
    const { host, storage } = await setup();
    const text = '<p>We <b>never</b> train on your inputs. <script>alert(1)</script></p>';
    const ev = await host.recordPolicy({
      text,
      mediaType: 'text/html',
      body: { platform: { name: 'Tripo' }, kind: 'privacy-policy', retrievedAt: '2026-01-02T03:04:05.000Z', answers }
    });
    const sha = createHash('sha256').update(text).digest('hex');
    const body = ev.event.body as { text: { sha256: string; size: number; mediaType: string } };
    expect(body.text).toEqual({ sha256: sha, size: Buffer.byteLength(text), mediaType: 'text/html' });
    expect(await storage.load(['texts', sha])).toBeTruthy();
    expect(await host.policyText(sha)).toBe(text);
    expect(await host.policyText('0'.repeat(64))).toBeNull();
    await expect(host.policyText('../x')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(host.recordPolicy({ text: '  ', mediaType: 'text/plain', body: {} })).rejects.toMatchObject({
      code: 'BAD_INPUT'
    });
  });

  it('records a checklist and a generation that cites it, with glTF sets', async () => {
    const { host } = await setup();
    const c = await host.recordChecklist({
      project: 'Robots',
      classification: 'client',
      policySnapshots: [],
      items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: false }
    });
    const g = await host.recordGeneration({
      platform: 'Tripo',
      mode: 'text-to-3d',
      project: 'Robots',
      classification: 'client',
      trainingOptOut: true,
      privacyMode: true,
      inputs: [],
      outputs: [new File(['{}'], 'robot.gltf'), new File(['bin'], 'robot.bin'), new File(['x'], 'robot.stl')],
      outputMeta: [{ set: 'robot.gltf', role: 'model' }, { set: 'robot.gltf', role: 'buffer' }, {}],
      checklist: c.id
    });
    const body = g.event.body as { checklist: string; outputs: { set?: string; role?: string }[] };
    expect(body.checklist).toBe(c.id);
    expect(body.outputs.map((o) => [o.set, o.role])).toEqual([
      ['robot.gltf', 'model'],
      ['robot.gltf', 'buffer'],
      [undefined, undefined]
    ]);
  });
});
