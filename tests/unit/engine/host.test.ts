/** LedgerHost: what the worker does for each request, over memory storage and a test identity. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import type { GenerationInput, Progress } from '../../../src/lib/engine/protocol.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { PromptVault } from '../../../src/lib/core/vault.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';

async function setup(storage = new MemoryStorage(), identity?: DeviceIdentity) {
  if (!identity) {
    const k = await generateDeviceKey(false);
    identity = { memberName: 'Ada', publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  }
  let made = 0;
  const id = identity;
  const host = new LedgerHost({
    init: async () => {},
    openStorage: async () => storage,
    loadIdentity: async () => (made > 0 ? id : undefined),
    ensureIdentity: async () => {
      made++;
      return id;
    }
  });
  return { host, storage, identity };
}

const file = (name: string, text: string) => new File([text], name);
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function input(over: Partial<GenerationInput> = {}): GenerationInput {
  return {
    platform: 'Tripo',
    modelVersion: 'v2.5',
    mode: 'text-to-3d',
    prompt: 'a brass robot, client secret',
    project: 'Brass Robots',
    classification: 'client',
    trainingOptOut: true,
    privacyMode: false,
    outputs: [file('robot.glb', 'glTF-bytes'), file('robot.obj', 'v 0 0 0\n')],
    inputs: [],
    ...over
  };
}

describe('LedgerHost', () => {
  it('reports an empty device, then creates a ledger with its genesis event', async () => {
    const { host } = await setup();
    expect(await host.open()).toEqual({ state: 'empty' });
    const s = await host.create('  Ada  ', 'Studio Nord');
    expect(s.state).toBe('ready');
    if (s.state !== 'ready') return;
    expect(s.ledger.name).toBe('Studio Nord');
    expect(s.member?.name).toBe('Ada');
    expect(s.events).toHaveLength(1);
    expect(s.events[0].event.body).toMatchObject({ action: 'create', member: { name: 'Ada', role: 'owner' } });
  });

  it('refuses a second ledger and empty names', async () => {
    const { host } = await setup();
    await expect(host.create('', 'L')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(host.create('Ada', '   ')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await host.create('Ada', 'L');
    await expect(host.create('Ada', 'L2')).rejects.toMatchObject({ code: 'ALREADY_INITIALIZED' });
  });

  it('records a generation: files hashed by streaming, only the prompt commitment in the event', async () => {
    const { host, storage } = await setup();
    await host.create('Ada', 'L');
    const progress: Progress[] = [];
    const ev = await host.recordGeneration(input({ inputs: [file('ref.png', 'png!')] }), (p) => progress.push(p));
    const body = ev.event.body as Record<string, any>;
    expect(ev.event.type).toBe('generation');
    expect(body.platform).toEqual({ name: 'Tripo', modelVersion: 'v2.5' });
    expect(body.outputs).toEqual([
      { name: 'robot.glb', format: 'glb', size: 10, sha256: sha('glTF-bytes') },
      { name: 'robot.obj', format: 'obj', size: 8, sha256: sha('v 0 0 0\n') }
    ]);
    expect(body.inputs).toEqual([{ name: 'ref.png', format: 'png', size: 4, sha256: sha('png!') }]);
    expect(body.settings).toEqual({ trainingOptOut: true, privacyMode: false });
    expect(body.prompt.alg).toBe('sha256-salt32-utf8-v1');
    expect(progress.at(-1)).toMatchObject({ done: 22, total: 22 });

    // The prompt is in the vault under its commitment, and nowhere in the ledger's own chunks.
    const opening = await new PromptVault(storage).get(body.prompt.commitment);
    expect(opening?.prompt).toBe('a brass robot, client secret');
    const chunks = await storage.loadRange([]);
    const ledgerText = chunks
      .filter((c) => c.key[0] !== 'vault')
      .map((c) => Buffer.from(c.data).toString('latin1'))
      .join('\n');
    expect(ledgerText).not.toContain('brass robot');
    expect(JSON.stringify(ev)).not.toContain('brass robot');

    expect(await host.verify()).toMatchObject({ ok: true, checked: 2, problems: [] });
  });

  it('signs no privacy setting the user did not choose: absent means not recorded, false means off', async () => {
    const { host } = await setup();
    await host.create('Ada', 'L');
    const none = await host.recordGeneration(
      input({ trainingOptOut: undefined, privacyMode: undefined, seed: '9' }),
      () => {}
    );
    expect((none.event.body as Record<string, any>).settings).toEqual({ seed: '9' });
    const off = await host.recordGeneration(input({ trainingOptOut: false, privacyMode: undefined }), () => {});
    expect((off.event.body as Record<string, any>).settings).toEqual({ trainingOptOut: false });
    expect(await host.verify()).toMatchObject({ ok: true, problems: [] });
  });

  it('leaves the prompt out entirely when none is given', async () => {
    const { host } = await setup();
    await host.create('Ada', 'L');
    const ev = await host.recordGeneration(input({ prompt: '   ' }));
    expect(ev.event.body).not.toHaveProperty('prompt');
  });

  it('checks the form at the door, with stable codes', async () => {
    const { host } = await setup();
    await expect(host.recordGeneration(input())).rejects.toMatchObject({ code: 'NOT_INITIALIZED' });
    await host.create('Ada', 'L');
    await expect(host.recordGeneration(input({ outputs: [] }))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(host.recordGeneration(input({ platform: '' }))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(host.recordGeneration(input({ classification: 'secret' as never }))).rejects.toMatchObject({
      code: 'BAD_INPUT'
    });
    await expect(host.recordGeneration(input({ mode: 'text-to-4d' as never }))).rejects.toMatchObject({
      code: 'BAD_INPUT'
    });
    await expect(host.recordGeneration(input({ outputs: ['not a file'] as never }))).rejects.toMatchObject({
      code: 'BAD_INPUT'
    });
    // Beyond the form's own checks, the core's schema has the last word.
    await expect(host.recordGeneration(input({ platform: 'P'.repeat(150) }))).rejects.toMatchObject({
      code: 'SCHEMA_INVALID'
    });
    await expect(host.verify()).resolves.toMatchObject({ ok: true, checked: 1 });
  });

  it('reopens the stored ledger in a new host (a reload), read-only without the device key', async () => {
    const { host, storage, identity } = await setup();
    await host.create('Ada', 'L');
    await host.recordGeneration(input());

    const again = new LedgerHost({
      init: async () => {},
      openStorage: async () => storage,
      loadIdentity: async () => identity,
      ensureIdentity: async () => identity
    });
    const s = await again.open();
    expect(s.state === 'ready' && s.events.map((e) => e.event.type)).toEqual(['member', 'generation']);
    await again.recordGeneration(input());

    const keyless = new LedgerHost({
      init: async () => {},
      openStorage: async () => storage,
      loadIdentity: async () => undefined,
      ensureIdentity: async () => identity
    });
    const k = await keyless.open();
    expect(k.state === 'ready' && k.member).toBeNull();
    await expect(keyless.recordGeneration(input())).rejects.toMatchObject({ code: 'NO_DEVICE_IDENTITY' });
  });
});
