/** Showing one's own prompt (bundle-requests.ts revealPrompt): from this device's vault, checked against the event's commitment. */
import { describe, expect, it } from 'vitest';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import { revealPrompt } from '../../../src/lib/engine/bundle-requests.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { VaultLock } from '../../../src/lib/engine/vault-lock.ts';

async function setup() {
  const k = await generateDeviceKey(false);
  const identity: DeviceIdentity = {
    memberName: 'Ada',
    publicKey: k.publicKey,
    signer: signerFromCryptoKey(k.privateKey, k.publicKey)
  };
  let made = 0;
  const storage = new MemoryStorage();
  const host = new LedgerHost({
    init: async () => {},
    openStorage: async () => storage,
    loadIdentity: async () => (made > 0 ? identity : undefined),
    ensureIdentity: async () => {
      made++;
      return identity;
    }
  });
  await host.create('Ada', 'Studio Nord');
  return { host, storage };
}

const generation = (prompt?: string) => ({
  platform: 'Tripo',
  mode: 'text-to-3d' as const,
  ...(prompt ? { prompt } : {}),
  project: 'Robots',
  classification: 'client' as const,
  trainingOptOut: true,
  privacyMode: false,
  outputs: [new File([`glb ${prompt}`], 'robot.glb')],
  inputs: []
});

describe('reveal-prompt', () => {
  it('gives the prompt from the vault, checked against the commitment; says when there is none', async () => {
    const { host, storage } = await setup();
    const e = await host.recordGeneration(generation('a small brass robot, low poly'));
    const r = await revealPrompt(host, e.id);
    expect(r).toMatchObject({ status: 'revealed', prompt: 'a small brass robot, low poly' });
    expect(r.status === 'revealed' && r.commitment).toBe(
      (e.event.body as { prompt: { commitment: string } }).prompt.commitment
    );

    const none = await host.recordGeneration(generation());
    expect(await revealPrompt(host, none.id)).toMatchObject({ status: 'no-prompt' });

    // The vault lost the opening (recorded on another device): said, not thrown.
    const c = (e.event.body as { prompt: { commitment: string } }).prompt.commitment;
    await storage.remove(['vault', c]);
    expect(await revealPrompt(host, e.id)).toMatchObject({ status: 'not-in-vault' });

    await expect(revealPrompt(host, 'f'.repeat(64))).rejects.toThrow(/generation/);
    await expect(revealPrompt(host, 42)).rejects.toThrow(/generation/);
  });

  it('an opening that does not recompute to the commitment is refused, never shown', async () => {
    const { host, storage } = await setup();
    const e = await host.recordGeneration(generation('the real prompt'));
    const c = (e.event.body as { prompt: { commitment: string } }).prompt.commitment;
    const bytes = await storage.load(['vault', c]);
    const o = JSON.parse(new TextDecoder().decode(bytes!));
    await storage.save(['vault', c], new TextEncoder().encode(JSON.stringify({ ...o, prompt: 'a forged prompt' })));
    await expect(revealPrompt(host, e.id)).rejects.toThrow(/damaged|cannot be revealed/);
  });

  it('a locked vault is said, not thrown; unlocked, the prompt shows', async () => {
    const storage = new VaultLock(new MemoryStorage(), { iterations: 1, memoryKiB: 64, parallelism: 1 });
    const k = await generateDeviceKey(false);
    const id: DeviceIdentity = {
      memberName: 'Ada',
      publicKey: k.publicKey,
      signer: signerFromCryptoKey(k.privateKey, k.publicKey)
    };
    const host = new LedgerHost({
      init: async () => {},
      openStorage: async () => storage,
      loadIdentity: async () => id,
      ensureIdentity: async () => id
    });
    await host.create('Ada', 'Studio Nord');
    await storage.setPassphrase('correct horse battery');
    const e = await host.recordGeneration(generation('a locked-away prompt'));
    await storage.lock();
    const r = await revealPrompt(host, e.id);
    expect(r).toMatchObject({ status: 'locked' });
    expect(JSON.stringify(r)).not.toContain('a locked-away prompt');
    await storage.unlock('correct horse battery');
    expect(await revealPrompt(host, e.id)).toMatchObject({ status: 'revealed', prompt: 'a locked-away prompt' });
  });
});
