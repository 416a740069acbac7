/** Evidence bundles in the worker (bundle-requests.ts), over memory storage: export as `prove`; checked as the Verify page does (src/verifier/check.ts). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import { exportBundle } from '../../../src/lib/engine/bundle-requests.ts';
import { checkBundle, type CheckInput } from '../../../src/verifier/check.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';

async function setup() {
  const k = await generateDeviceKey(false);
  const identity: DeviceIdentity = {
    memberName: 'Ada',
    publicKey: k.publicKey,
    signer: signerFromCryptoKey(k.privateKey, k.publicKey)
  };
  let made = 0;
  const host = new LedgerHost({
    init: async () => {},
    openStorage: async () => new MemoryStorage(),
    loadIdentity: async () => (made > 0 ? identity : undefined),
    ensureIdentity: async () => {
      made++;
      return identity;
    }
  });
  await host.create('Ada', 'Studio Nord');
  return host;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const verifyBundleRequest = (bundle: Blob, files: File[]) => checkBundle({ bundle, files } satisfies CheckInput);

describe('evidence bundles in the worker', () => {
  it('exports an unwitnessed bundle with the prompt revealed; it verifies with its file, a changed hash does not', async () => {
    const host = await setup();
    await host.recordGeneration({
      platform: 'Tripo',
      mode: 'text-to-3d',
      prompt: 'a brass robot',
      project: 'Robots',
      classification: 'client',
      trainingOptOut: true,
      privacyMode: false,
      outputs: [new File(['glTF-bytes'], 'robot.glb')],
      inputs: []
    });
    const out = await exportBundle(host, sha('glTF-bytes'), true, 'robot.glb');
    expect(out.unwitnessed).toBe(true);
    expect(out.openings).toBe(1);
    expect(out.report).toContain('robot.glb');

    const good = await verifyBundleRequest(new Blob([out.text]), [
      new File(['glTF-bytes'], 'robot.glb'),
      new File(['other'], 'other.glb')
    ]);
    expect(good.bundleOk).toBe(true);
    expect(good.fileFailures.map((f) => f.code)).toEqual(['FILE_NOT_IN_BUNDLE']);
    expect(good.files.map((f) => [f.name, f.named])).toEqual([
      ['robot.glb', true],
      ['other.glb', false]
    ]);

    const ok = await verifyBundleRequest(new Blob([out.text]), [new File(['glTF-bytes'], 'robot.glb')]);
    expect(ok.ok).toBe(true);
    expect(ok.statements.join('\n')).toContain('was recorded as output of a generation on Tripo');
    expect(ok.statements.join('\n')).toContain('"a brass robot"');

    // A later append: the attached log follows it and a new bundle (about the event) covers it.
    const later = await host.recordGeneration({
      platform: 'Meshy',
      mode: 'text-to-3d',
      project: 'Robots',
      classification: 'client',
      trainingOptOut: true,
      privacyMode: false,
      outputs: [new File(['more-bytes'], 'owl.glb')],
      inputs: []
    });
    const second = await exportBundle(host, later.id, false);
    expect(JSON.parse(second.text).subject).toEqual({ event: later.id });
    expect(second.openings).toBe(0);
    expect((await verifyBundleRequest(new Blob([second.text]), [])).ok).toBe(true);

    const b = JSON.parse(out.text);
    const i = b.events.findIndex((e: { proof: string[] }) => e.proof.length > 0);
    b.events[i].proof[0] = (b.events[i].proof[0][0] === 'A' ? 'B' : 'A') + b.events[i].proof[0].slice(1);
    const bad = await verifyBundleRequest(new Blob([JSON.stringify(b)]), []);
    expect(bad.ok).toBe(false);
    expect(bad.failures[0].code).toBe('INCLUSION_PROOF_INVALID');
    expect(bad.statements).toEqual([]);
  });

  it('refuses a subject that is neither an event id nor a SHA-256', async () => {
    const host = await setup();
    await expect(exportBundle(host, 'nope', false)).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
