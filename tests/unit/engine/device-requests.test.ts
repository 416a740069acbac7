/** Device requests over memory storage: custody records, trace, ledger export/import, the vault lock. */
import { describe, expect, it } from 'vitest';
import { LedgerHost } from '../../../src/lib/engine/host.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { exportPrivateKey, generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { handleDevice, importLedger } from '../../../src/lib/engine/device-requests.ts';
import { VaultLock } from '../../../src/lib/engine/vault-lock.ts';
import { PromptVault } from '../../../src/lib/core/vault.ts';
import { commitPrompt } from '../../../src/lib/core/commitment.ts';
import { decryptKeyBackup, encryptKeyBackup } from '../../../src/lib/core/backup.ts';
import { loadTeamKeys, newTeamKey, saveTeamKey } from '../../../src/lib/core/team/teamkey.ts';

const KDF = { iterations: 1, memoryKiB: 64, parallelism: 1 };

async function device() {
  const storage = new MemoryStorage();
  const vault = new VaultLock(storage, KDF);
  const k = await generateDeviceKey(false);
  const id = { memberName: 'Ada', publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  const host = new LedgerHost({
    init: async () => {},
    openStorage: async () => vault,
    loadIdentity: async () => id,
    ensureIdentity: async () => id
  });
  const deps = {
    host,
    vault: async () => vault,
    identity: {
      load: async () => undefined,
      restore: async () => {
        throw new Error('no');
      }
    }
  };
  return { host, storage, vault, deps };
}

const file = (name: string, text: string) => new File([text], name);

describe('device requests', () => {
  it('records custody events and traces a file through them', async () => {
    const { host, deps } = await device();
    await host.create('Ada', 'Studio');
    const gen = await host.recordGeneration({
      platform: 'Tripo',
      mode: 'text-to-3d',
      project: 'P',
      classification: 'client',
      trainingOptOut: true,
      privacyMode: true,
      outputs: [file('robot.glb', 'glb bytes')],
      inputs: []
    });
    const out = (gen.event.body as any).outputs[0];
    const progress = () => {};
    await handleDevice(
      deps,
      {
        type: 'record-custody',
        input: {
          type: 'export',
          generation: gen.id,
          known: [out],
          files: [],
          destination: { label: 'Vault drive', kind: 'encrypted-drive', encrypted: true }
        }
      },
      progress
    );
    const der = await handleDevice(
      deps,
      {
        type: 'record-custody',
        input: {
          type: 'derivation',
          known: [out],
          files: [file('robot-retopo.glb', 'retopo')],
          tool: { name: 'Blender', version: '4.2' },
          operation: 'retopology'
        }
      },
      progress
    );
    const derived = (der.event.body as any).outputs[0];
    await handleDevice(
      deps,
      {
        type: 'record-custody',
        input: { type: 'handoff', known: [derived], files: [], recipient: { name: 'Client Co' } }
      },
      progress
    );
    await handleDevice(
      deps,
      {
        type: 'record-custody',
        input: {
          type: 'deletion',
          platform: 'Tripo',
          generation: gen.id,
          fileHashes: [out.sha256],
          status: 'confirmed',
          evidence: file('mail.eml', 'deleted'),
          evidenceKind: 'email'
        }
      },
      progress
    );
    const chain = await handleDevice(deps, { type: 'trace', hashes: [derived.sha256] }, progress);
    expect(chain.map((e) => e.event.type)).toEqual(['generation', 'export', 'derivation', 'handoff', 'deletion']);
    await expect(
      handleDevice(
        deps,
        { type: 'record-custody', input: { type: 'handoff', known: [], files: [], recipient: { name: 'X' } } },
        progress
      )
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });

  it('exports a ledger and imports it on an empty device; refuses tampered and foreign files whole', async () => {
    const a = await device();
    await a.host.create('Ada', 'Studio');
    await a.host.recordGeneration({
      platform: 'Meshy',
      mode: 'text-to-3d',
      project: 'P',
      classification: 'public',
      trainingOptOut: false,
      privacyMode: false,
      outputs: [file('a.glb', 'a')],
      inputs: []
    });
    const exp = await handleDevice(a.deps, { type: 'export-ledger' }, () => {});
    expect(exp.events).toBe(2);

    const b = await device();
    const tampered = exp.text.replace('Meshy', 'Mesh2');
    await expect(importLedger(b.host, new Blob([tampered]))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect((await b.host.open()).state).toBe('empty');
    await expect(importLedger(b.host, new Blob(['not json\n']))).rejects.toThrow(/not a ledger export/);

    const r = await importLedger(b.host, new Blob([exp.text]));
    expect(r.accepted).toBe(2);
    expect(r.state.state).toBe('ready');
    const again = await importLedger(b.host, new Blob([exp.text]));
    expect(again.accepted).toBe(0);

    const c = await device();
    await c.host.create('Bo', 'Other');
    await expect(importLedger(c.host, new Blob([exp.text]))).rejects.toMatchObject({ code: 'WRONG_LEDGER' });
  });

  it('carries journal signatures (format v2): the imported ledger verifies; missing or altered signatures are refused', async () => {
    const a = await device();
    await a.host.create('Ada', 'Studio');
    await a.host.recordGeneration({
      platform: 'Meshy',
      mode: 'text-to-3d',
      project: 'P',
      classification: 'public',
      trainingOptOut: false,
      privacyMode: false,
      outputs: [file('a.glb', 'a')],
      inputs: []
    });
    const exp = await handleDevice(a.deps, { type: 'export-ledger' }, () => {});
    const lines = exp.text.trim().split('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ format: 'provenance-ledger/export/v2', events: 2, signatures: 2 });
    expect(lines).toHaveLength(5);
    const sigLines = lines.filter((l) => JSON.parse(l)[0]?.endsWith?.('.git'));
    expect(sigLines).toHaveLength(2);

    // Without its signature lines (and counts adjusted) the file is refused: the events would not verify here.
    const head = { ...JSON.parse(lines[0]), signatures: 0 };
    const stripped = [JSON.stringify(head), ...lines.slice(1).filter((l) => !sigLines.includes(l))].join('\n') + '\n';
    const b = await device();
    await expect(importLedger(b.host, new Blob([stripped]))).rejects.toThrow(/JOURNAL_SIGNATURE_MISSING/);
    // A signature altered (another valid-looking 64 bytes) is refused too.
    const [k, v] = JSON.parse(sigLines[1]) as [string, string];
    const altered = exp.text.replace(
      JSON.stringify([k, v]),
      JSON.stringify([k, (v[0] === 'A' ? 'B' : 'A') + v.slice(1)])
    );
    await expect(importLedger(b.host, new Blob([altered]))).rejects.toThrow(/JOURNAL_SIGNATURE_INVALID/);
    // v1 files are refused with an explanation.
    const v1 = [
      JSON.stringify({ ...JSON.parse(lines[0]), format: 'provenance-ledger/export/v1' }),
      ...lines.slice(1)
    ].join('\n');
    await expect(importLedger(b.host, new Blob([v1]))).rejects.toThrow(/older version/);
    expect((await b.host.open()).state).toBe('empty');

    const r = await importLedger(b.host, new Blob([exp.text]));
    expect(r.accepted).toBe(2);
    const report = await b.host.verify();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    // The re-export from the importing device is the same ledger, signatures included.
    const again = await handleDevice(b.deps, { type: 'export-ledger' }, () => {});
    expect(again.text.split('\n').slice(1)).toEqual(exp.text.split('\n').slice(1));
  });

  it('the complete backup carries the team keys the device holds (not its key backup, made before them); restore stores them', async () => {
    const PASS = 'correct horse battery';
    const a = await device();
    const k = await generateDeviceKey(true);
    // The key backup made with the key, before any team key existed (as the browser makes it).
    const keyBackup = await encryptKeyBackup(await exportPrivateKey(k.privateKey), k.publicKey, 'Ada', PASS, {
      iterations: 1,
      memoryKiB: 1024,
      parallelism: 1
    });
    a.deps.identity.load = async () =>
      ({
        privateKey: k.privateKey,
        publicKey: k.publicKey,
        memberName: 'Ada',
        createdAt: '2026-01-01T00:00:00Z',
        backup: keyBackup
      }) as any;
    await a.host.create('Ada', 'Studio');
    const held = [newTeamKey(1), newTeamKey(2, ['d'.repeat(64)])];
    for (const t of held) await saveTeamKey(await a.host.storage(), t);
    const made = await handleDevice(a.deps, { type: 'full-backup', passphrase: PASS }, () => {});

    const b = await device();
    let restoredKey: string | undefined;
    b.deps.identity.restore = (async (backup: unknown, passphrase: string) => {
      const r = await decryptKeyBackup(backup, passphrase);
      restoredKey = r.publicKey;
      return { ...r, memberName: r.name };
    }) as any;
    const r = await handleDevice(
      b.deps,
      { type: 'full-restore', file: new File([made.text], 'studio.backup.json'), passphrase: PASS },
      () => {}
    );
    expect(r).toMatchObject({ keyRestored: true, teamKeys: 2 });
    expect(restoredKey).toBe(k.publicKey);
    expect(await loadTeamKeys(await b.host.storage())).toEqual(await loadTeamKeys(await a.host.storage()));

    // Again: every epoch is held, nothing to add.
    const again = await handleDevice(
      b.deps,
      { type: 'full-restore', file: new File([made.text], 'studio.backup.json'), passphrase: PASS },
      () => {}
    );
    expect(again).toMatchObject({ accepted: 0, texts: 0, prompts: 0, teamKeys: 0, keyRestored: false });
  });

  it('encrypts vault entries under a passphrase and locks them', async () => {
    const { vault, storage } = await device();
    const pv = new PromptVault(vault);
    const c1 = await commitPrompt('first secret prompt');
    await pv.put(c1.opening);
    let st = await vault.setPassphrase('correct horse');
    expect(st).toMatchObject({ protected: true, unlocked: true, entries: 1 });
    const raw = await storage.load(['vault', c1.commitment.commitment]);
    expect(new TextDecoder().decode(raw!)).not.toContain('first secret prompt');
    expect((await pv.get(c1.commitment.commitment))?.prompt).toBe('first secret prompt');
    await vault.lock();
    await expect(pv.get(c1.commitment.commitment)).rejects.toMatchObject({ code: 'VAULT_LOCKED' });
    await expect(vault.unlock('wrong one')).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    st = await vault.unlock('correct horse');
    expect(st.unlocked).toBe(true);
    expect((await pv.get(c1.commitment.commitment))?.prompt).toBe('first secret prompt');
  });
});
