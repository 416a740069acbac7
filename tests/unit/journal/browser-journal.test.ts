/**
 * The ledger worker's Git journal (src/lib/engine/browser-journal.ts) over fake-indexeddb, with the same
 * LedgerHost the worker runs: it follows the open ledger, writes appends behind them (batched), reports its
 * state, pushes to and pulls from a real git http-backend, and clones on a device without a ledger.
 * The same in real Chromium: tests/e2e/journal.e2e.ts.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { LedgerHost, type DeviceIdentity } from '../../../src/lib/engine/host.ts';
import { BrowserJournal } from '../../../src/lib/engine/browser-journal.ts';
import { browserBinding } from '../../../src/lib/adapters/git/idb-fs.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { loadTeamKeys, saveTeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { JournalCommits } from '../../../src/lib/core/journal/signatures.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';
import path from 'node:path';

let server: GitServer;
beforeAll(async () => {
  server = await startGitServer();
});
afterAll(async () => {
  await server.close();
});

let n = 0;
async function device(identity?: DeviceIdentity) {
  if (!identity) {
    const k = await generateDeviceKey(false);
    identity = { memberName: 'Ada', publicKey: k.publicKey, signer: signerFromCryptoKey(k.privateKey, k.publicKey) };
  }
  const id = identity;
  let made = false;
  const storage = new MemoryStorage();
  const host = new LedgerHost({
    init: async () => {},
    openStorage: async () => storage,
    loadIdentity: async () => (made ? id : undefined),
    ensureIdentity: async () => ((made = true), id)
  });
  const dbName = `browser-journal-${++n}`;
  const journal = new BrowserJournal(host, { binding: () => browserBinding({ dbName }) });
  return { host, journal, identity, storage };
}

const checklist = (i: number) => ({
  project: `Project ${i}`,
  classification: 'client' as const,
  policySnapshots: [],
  items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
});

describe('the journal in the ledger worker', () => {
  it('follows the open ledger, writes appends behind them, and reports its state', async () => {
    const d = await device();
    expect(await d.journal.handle({ type: 'journal-status' })).toBeNull(); // no ledger yet
    await d.host.create('Ada', 'Studio');
    d.journal.follow();
    // Appends issued back to back (as the worker's queue runs them) do not wait for their commits.
    for (let i = 0; i < 12; i++) await d.host.recordChecklist(checklist(i));
    const j = (await d.journal.journal())!;
    await j.settled();
    const s = (await d.journal.handle({ type: 'journal-status' })) as Awaited<ReturnType<typeof j.status>>;
    expect(s).toMatchObject({ commits: 13, events: 13, missing: 0, pending: 0, concurrent: 0 });
    const ledger = d.host.ledger();
    const truth = new JournalCommits(
      { event: (id) => ledger.get(id), signature: (id) => ledger.journalSignature(id) },
      { hints: false }
    );
    expect(s.head).toBe(truth.oid(ledger.heads()[0]));
    const v = (await d.journal.handle({ type: 'journal-verify' })) as { ok: boolean };
    expect(v.ok).toBe(true);
  });

  it('pushes (sealed) to a remote, and a device without a ledger clones it by pulling with the team keys; pull brings new events', async () => {
    server.createRepo('browser.git');
    const url = server.url('browser.git');
    const a = await device();
    await a.host.create('Ada', 'Studio');
    a.journal.follow();
    for (let i = 0; i < 3; i++) await a.host.recordChecklist(checklist(i));
    const pushed = (await a.journal.handle({ type: 'journal-push', url })) as {
      main: string;
      sealed: boolean;
      status: { lastPush?: { url: string } };
    };
    expect(pushed.main).toMatch(/^[0-9a-f]{40}$/);
    expect(pushed.sealed).toBe(true);
    expect(pushed.status.lastPush?.url).toBe(url);
    execFileSync('git', ['--git-dir', path.join(server.root, 'browser.git'), 'fsck', '--strict'], { stdio: 'pipe' });

    const b = await device(a.identity); // the same member on a second, empty device
    // Without the team key: refused, naming the epoch, and nothing is kept.
    const refused = (await b.journal.handle({ type: 'journal-pull', url }).catch((e) => e)) as {
      code: string;
      message: string;
    };
    expect(refused.code).toBe('SEALED_KEY_MISSING');
    expect(refused.message).toContain('team key epoch 1');
    expect(await b.storage.loadRange(['doc'])).toEqual([]);
    // With it (what restoring a key backup keeps beside the ledger):
    for (const k of await loadTeamKeys(a.storage)) await saveTeamKey(b.storage, k);
    const cloned = (await b.journal.handle({ type: 'journal-pull', url })) as {
      cloned: boolean;
      received: number;
      status: { commits: number; head: string };
    };
    expect(cloned).toMatchObject({ cloned: true, received: 4 });
    expect(cloned.status).toMatchObject({ commits: 4, head: pushed.main });
    expect(b.host.ledger().size).toBe(4);

    await a.host.recordChecklist(checklist(9));
    await a.journal.handle({ type: 'journal-push', url });
    const pulled = (await b.journal.handle({ type: 'journal-pull', url })) as {
      cloned: boolean;
      received: number;
      status: { commits: number };
    };
    expect(pulled).toMatchObject({ cloned: false, received: 1 });
    expect(pulled.status.commits).toBe(5);
    expect(b.host.ledger().heads()).toEqual(a.host.ledger().heads());
  });

  it('bad remotes: a clear error, and nothing is kept on a device that had no ledger', async () => {
    const d = await device();
    await expect(d.journal.handle({ type: 'journal-pull', url: 'not a url' })).rejects.toMatchObject({
      code: 'BAD_INPUT'
    });
    await expect(d.journal.handle({ type: 'journal-pull', url: 'http://127.0.0.1:9/none.git' })).rejects.toMatchObject({
      code: 'REMOTE_UNREACHABLE'
    });
    expect(await d.storage.loadRange(['doc'])).toEqual([]);
    expect(await d.journal.handle({ type: 'journal-status' })).toBeNull();
  });
});
