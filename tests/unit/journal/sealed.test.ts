/**
 * The sealed journal against a real `git http-backend`: what the host holds names no project, file, platform,
 * classification, member or ledger; stock git verifies every commit with the archive keys' allowed-signers file
 * and fsck --strict is clean; a second device clones and verifies with the team keys, and one that lacks an
 * epoch's key is refused naming the epoch. The core (sealed.ts) is checked on its own first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generationBody, newSigner, steppingClock } from '../helpers/ledger.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { clone, pull, push, pushSealed } from '../../../src/lib/adapters/git/remote.ts';
import { newTeamKey, saveTeamKey, loadTeamKeys } from '../../../src/lib/core/team/teamkey.ts';
import { removeAndRotate } from '../../../src/lib/core/team/removal.ts';
import {
  archiveKey,
  archiveKeys,
  openBlob,
  sealBlob,
  sealEvent,
  sealedAllowedSigners,
  SealedEpochs,
  parseSealedMessage
} from '../../../src/lib/core/journal/sealed.ts';
import { fromBase64url } from '../../../src/lib/core/bytes.ts';
import { parseCommit } from '../../../src/lib/core/journal/objects.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';

let server: GitServer;
let tmp: string;
beforeAll(async () => {
  server = await startGitServer();
  tmp = mkdtempSync(path.join(tmpdir(), 'sealed-test-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
const freshDir = () => path.join(tmp, `d${++n}`);
const git = (gitdir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8', stdio: 'pipe' });

/** The names a Git host must never see. */
const SECRETS = [
  'Brass Robots',
  'client',
  'Tripo',
  'robot-',
  '.glb',
  'text-to-3d',
  'Ada Lovelace',
  'Bob Marley',
  'Studio Nebula',
  'member',
  'generation',
  'privacyMode'
];

async function owner() {
  const storage = new MemoryStorage();
  const signer = await newSigner();
  const ledger = await Ledger.create({
    storage,
    signer,
    memberName: 'Ada Lovelace',
    ledgerName: 'Studio Nebula',
    now: steppingClock()
  });
  const team = newTeamKey(1);
  await saveTeamKey(storage, team);
  const dir = freshDir();
  const journal = await GitJournal.attach(nodeBinding(dir), ledger);
  return { storage, signer, ledger, dir, journal, keys: async () => archiveKeys(await loadTeamKeys(storage)) };
}

/** Every object of a bare repository, as `git cat-file --batch-all-objects --batch` prints them. */
const allObjects = (gitdir: string) =>
  execFileSync('git', ['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch'], { maxBuffer: 1 << 28 });

describe('sealed journal: the core', () => {
  it('seals deterministically, opens only under its key and event, and refuses a blob whose nonce is not its own', async () => {
    const o = await owner();
    const ev = await o.ledger.append('generation', generationBody());
    const k = await archiveKey(newTeamKey(1));
    const other = await archiveKey(newTeamKey(1));
    const sig = fromBase64url(o.ledger.journalSignature(ev.id)!);
    const env = new TextEncoder().encode(JSON.stringify({ event: ev.event, sig: ev.sig }));
    const a = await sealBlob(k, ev.id, sig, env);
    expect(await sealBlob(k, ev.id, sig, env)).toEqual(a);
    const opened = await openBlob(k, ev.id, a);
    expect(opened?.signature).toEqual(sig);
    expect(new TextDecoder().decode(opened!.envelope)).toBe(new TextDecoder().decode(env));
    expect(await openBlob(other, ev.id, a)).toBeUndefined();
    expect(await openBlob(k, '0'.repeat(64), a)).toBeUndefined();
    const flipped = a.slice();
    flipped[20] ^= 1;
    expect(await openBlob(k, ev.id, flipped)).toBeUndefined();
    // A blob that opens (the spec's AAD, a valid tag) but under another nonce than the plaintext determines.
    const { seal } = await import('../../../src/lib/core/sync/crypto.ts');
    const aad = new TextEncoder().encode(`provenance-ledger/sealed-journal/v1\nepoch 1\nevent ${ev.id}`);
    const nonce = new Uint8Array(12).fill(7);
    const plaintext = new Uint8Array([...sig, ...env]);
    const otherNonce = new Uint8Array([...nonce, ...(await seal(k.aead, nonce, plaintext, aad))]);
    expect(await openBlob(k, ev.id, otherNonce)).toBeUndefined();
    expect(
      await openBlob(
        k,
        ev.id,
        new Uint8Array([...a.subarray(0, 12), ...(await seal(k.aead, a.subarray(0, 12), plaintext, aad))])
      )
    ).toEqual(opened);
    const c1 = await sealEvent(k, ev, sig, ['1'.repeat(40)]);
    const c2 = await sealEvent(k, ev, sig, ['1'.repeat(40)]);
    expect(c2.commit.oid).toBe(c1.commit.oid);
    const parsed = parseCommit(c1.commit.content);
    expect(parseSealedMessage(parsed.message)).toEqual({ id: ev.id, epoch: 1 });
    expect(parsed.parents).toEqual(['1'.repeat(40)]);
    expect(new TextDecoder().decode(c1.commit.content)).not.toMatch(/Ada|Tripo|generation/);
  });

  it('places an event in the newest epoch whose removals lie in its history, and says when a key is missing', async () => {
    const o = await owner();
    const bob = await newSigner();
    await o.ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob Marley', key: bob.publicKey, role: 'member' }
    });
    const before = await o.ledger.append('generation', generationBody());
    const { events } = await removeAndRotate(o.ledger, o.storage, [o.ledger.member(bob.publicKey)!]);
    const after = await o.ledger.append('generation', generationBody());
    const teams = await loadTeamKeys(o.storage);
    const plan = new SealedEpochs(await archiveKeys(teams));
    for (const ev of o.ledger.events()) plan.add(ev);
    const epochOf = (id: string) => {
      const k = plan.keyFor(id);
      return 'key' in k ? k.key.epoch : k.error;
    };
    expect(epochOf(before.id)).toBe(1);
    expect(epochOf(events[0])).toBe(2);
    expect(epochOf(after.id)).toBe(2);
    const onlyOld = new SealedEpochs(await archiveKeys(teams.filter((t) => t.epoch === 1)));
    for (const ev of o.ledger.events()) onlyOld.add(ev);
    expect(onlyOld.keyFor(before.id)).toHaveProperty('key');
    expect((onlyOld.keyFor(after.id) as { error: string }).error).toMatch(
      /follows the removal .* has not reached this device/
    );
    const onlyNew = new SealedEpochs(await archiveKeys(teams.filter((t) => t.epoch === 2)));
    for (const ev of o.ledger.events()) onlyNew.add(ev);
    expect((onlyNew.keyFor(before.id) as { error: string }).error).toMatch(
      /older than any this device holds \(it holds epochs 2\)/
    );
  });
});

describe('sealed journal over a real git http-backend', () => {
  it('the host holds no name; stock git verifies every commit; fsck --strict is clean; a second device clones and pulls', async () => {
    server.createRepo('sealed.git');
    const url = server.url('sealed.git');
    const remote = path.join(server.root, 'sealed.git');
    const o = await owner();
    const bob = await newSigner();
    await o.ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob Marley', key: bob.publicKey, role: 'member' }
    });
    await o.ledger.append('checklist', {
      project: 'Brass Robots',
      classification: 'client',
      policySnapshots: [],
      items: { classified: true, policiesReviewed: false, privacySettingsEnabled: false, inputsSanitized: false }
    });
    for (let i = 0; i < 5; i++) await o.ledger.append('generation', generationBody());
    const keys = await o.keys();
    const r = await pushSealed(o.journal, url, keys);
    expect(r.pushed).toBe(true);
    expect(r.sent).toBe(o.ledger.size);

    // Nothing readable on the host: not in any object, not in the log.
    const objects = allObjects(remote);
    for (const s of SECRETS) expect(objects.includes(Buffer.from(s)), `the remote holds "${s}"`).toBe(false);
    const log = git(remote, 'log', '--format=%an %ae %s %b', 'main');
    for (const s of SECRETS) expect(log).not.toContain(s);
    expect(git(remote, 'rev-list', '--count', 'main').trim()).toBe(String(o.ledger.size));

    // Stock git verifies every commit with the archive keys' allowed-signers file; fsck is clean.
    const signers = path.join(tmp, 'sealed-allowed');
    writeFileSync(signers, sealedAllowedSigners(keys));
    for (const c of git(remote, 'rev-list', 'main').trim().split('\n')) {
      git(remote, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', c);
    }
    git(remote, 'fsck', '--strict');

    // The same sealed commits from another journal of the same ledger: commit ids agree across devices.
    const again = await GitJournal.attach(nodeBinding(freshDir()), o.ledger);
    server.createRepo('sealed-again.git');
    const r2 = await pushSealed(again, server.url('sealed-again.git'), keys);
    expect(r2.sealedMain).toBe(r.sealedMain);

    // A second device clones with the team keys, rebuilds a verifying ledger and the readable journal.
    const dir = freshDir();
    const c = await clone(nodeBinding(dir), url, new MemoryStorage(), bob, keys);
    expect(c.ledger.size).toBe(o.ledger.size);
    expect((await c.ledger.verify()).ok).toBe(true);
    for (const ev of o.ledger.events()) expect(c.commitOf(ev.id)).toBe(o.journal.commitOf(ev.id));
    git(path.join(dir, 'journal.git'), 'fsck', '--strict');
    expect((await c.status()).remotes).toEqual([expect.objectContaining({ sealed: true })]);

    // Both append; each pushes sealed and pulls the other's event.
    await o.ledger.append('generation', generationBody());
    await pushSealed(o.journal, url, keys);
    await c.ledger.append('generation', generationBody());
    await c.settled();
    const pc = await pushSealed(c, url, keys);
    expect(pc.received).toBe(1);
    const po = await pull(
      o.journal,
      url,
      await (await import('../../../src/lib/adapters/git/sealed.ts')).sealedFetch(o.journal, keys)
    );
    expect(po.kind).toBe('sealed');
    expect(po.received).toBe(1);
    expect(o.ledger.heads()).toEqual(c.ledger.heads());
    git(remote, 'fsck', '--strict');
    expect(allObjects(remote).includes(Buffer.from('Brass Robots'))).toBe(false);
  });

  it('a device without the key of an epoch is refused, naming the epoch; a plain remote is not sealed over', async () => {
    server.createRepo('epochs.git');
    const url = server.url('epochs.git');
    const o = await owner();
    const bob = await newSigner();
    const carol = await newSigner();
    await o.ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob Marley', key: bob.publicKey, role: 'member' }
    });
    await o.ledger.append('member', {
      action: 'add',
      member: { id: 'carol', name: 'Carol', key: carol.publicKey, role: 'member' }
    });
    await o.ledger.append('generation', generationBody());
    const epoch1 = await o.keys();
    await removeAndRotate(o.ledger, o.storage, [o.ledger.member(bob.publicKey)!]);
    await o.ledger.append('generation', generationBody({ project: 'After Bob' }));
    await o.journal.settled();
    await pushSealed(o.journal, url, await o.keys());
    // Bob kept epoch 1 only: the clone is refused before anything is kept, naming epoch 2.
    const err = await clone(nodeBinding(freshDir()), url, new MemoryStorage(), bob, epoch1).catch((e) => e);
    expect(err.code).toBe('SEALED_KEY_MISSING');
    expect(err.message).toMatch(/epoch 2, and this device holds no key for that epoch \(it holds: 1\)/);
    // No keys at all.
    const none = await clone(nodeBinding(freshDir()), url, new MemoryStorage(), bob).catch((e) => e);
    expect(none.code).toBe('SEALED_KEY_MISSING');
    // The sealed blobs of epoch 2 do not open under epoch 1's key.
    const objects = allObjects(path.join(server.root, 'epochs.git'));
    expect(objects.includes(Buffer.from('After Bob'))).toBe(false);

    // A readable remote stays readable: a sealed push to it is refused.
    server.createRepo('plain.git');
    await push(o.journal, server.url('plain.git'));
    const plain = await pushSealed(o.journal, server.url('plain.git'), await o.keys()).catch((e) => e);
    expect(plain.message).toMatch(/holds a readable \(unsealed\) journal: push --plain/);
  });

  it('the sealed commit ids are kept beside the journal: a later push seals only what is new; a wrong entry is caught', async () => {
    server.createRepo('cache.git');
    const url = server.url('cache.git');
    const o = await owner();
    for (let i = 0; i < 4; i++) await o.ledger.append('generation', generationBody());
    const keys = await o.keys();
    const first = await pushSealed(o.journal, url, keys);
    await o.ledger.append('generation', generationBody());
    await o.journal.settled();
    // A new process: a fresh journal over the same directory.
    const again = await GitJournal.attach(nodeBinding(o.dir), o.ledger);
    const r = await pushSealed(again, url, keys);
    expect(r.sent).toBe(1);
    const { sealedState } = await import('../../../src/lib/adapters/git/sealed.ts');
    expect((await sealedState(again, keys)).byEvent.size).toBe(1); // only the new event was sealed
    expect(git(path.join(server.root, 'cache.git'), 'rev-parse', 'main~1').trim()).toBe(first.sealedMain);

    // A cache entry that is not the event's sealed commit: the push that would send it stops, saying so.
    const file = path.join(o.dir, 'journal.git', 'sealed-commits');
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1].replace(/ [0-9a-f]{40}$/, ' ' + 'ab'.repeat(20));
    writeFileSync(file, lines.join('\n'));
    server.createRepo('cache2.git');
    const fresh = await GitJournal.attach(nodeBinding(o.dir), o.ledger);
    const err = await pushSealed(fresh, server.url('cache2.git'), keys).catch((e) => e);
    expect(err.code).toBe('JOURNAL_MISMATCH');
    expect(err.message).toContain('remove that file and push again');
  });

  it('a member who joined after a rotation (the newest key only, the events by sync) pulls and pushes the sealed journal', async () => {
    server.createRepo('joined.git');
    server.createRepo('joined-plain.git');
    const url = server.url('joined.git');
    const o = await owner();
    const bob = await newSigner();
    const carol = await newSigner();
    await o.ledger.append('member', {
      action: 'add',
      member: { id: 'bob', name: 'Bob Marley', key: bob.publicKey, role: 'member' }
    });
    await o.ledger.append('generation', generationBody());
    await removeAndRotate(o.ledger, o.storage, [o.ledger.member(bob.publicKey)!]);
    await o.ledger.append('member', {
      action: 'add',
      member: { id: 'carol', name: 'Carol', key: carol.publicKey, role: 'member' }
    });
    await o.journal.settled();
    const all = await o.keys();
    await pushSealed(o.journal, url, all);
    // Carol's device holds every event (as a sync brings them; here through a readable clone) and epoch 2 only.
    await push(o.journal, server.url('joined-plain.git'));
    const c = await clone(nodeBinding(freshDir()), server.url('joined-plain.git'), new MemoryStorage(), carol);
    const epoch2 = all.filter((k) => k.epoch === 2);
    const { sealedFetch } = await import('../../../src/lib/adapters/git/sealed.ts');
    const pulled = await pull(c, url, await sealedFetch(c, epoch2));
    expect(pulled).toMatchObject({ kind: 'sealed', received: 0 });
    await c.ledger.append('generation', generationBody({ project: 'Carol Project' }));
    await c.settled();
    const pushed = await pushSealed(c, url, epoch2);
    expect(pushed.sent).toBe(1);
    const remote = path.join(server.root, 'joined.git');
    expect(git(remote, 'log', '-1', '--format=%B', 'main')).toMatch(/^event [0-9a-f]{64}\n\nEpoch: 2\n/);
    const back = await pull(o.journal, url, await sealedFetch(o.journal, all));
    expect(back.received).toBe(1);
    expect(o.ledger.heads()).toEqual(c.ledger.heads());
    git(remote, 'fsck', '--strict');
  });

  it('a tampered sealed commit is refused and nothing local changes', async () => {
    server.createRepo('tamper.git');
    const url = server.url('tamper.git');
    const o = await owner();
    await o.ledger.append('generation', generationBody());
    const keys = await o.keys();
    await pushSealed(o.journal, url, keys);
    const c = await clone(nodeBinding(freshDir()), url, new MemoryStorage(), undefined, keys);
    await o.ledger.append('generation', generationBody());
    await pushSealed(o.journal, url, keys);
    // The host forging: the newest commit made to hold its parent's ciphertext (same message, same signature).
    const remote = path.join(server.root, 'tamper.git');
    const head = git(remote, 'rev-parse', 'main').trim();
    const raw = git(remote, 'cat-file', 'commit', head);
    const parentTree = git(remote, 'rev-parse', 'main~1^{tree}').trim();
    const forged = raw.replace(/^tree [0-9a-f]{40}$/m, `tree ${parentTree}`);
    expect(forged).not.toBe(raw);
    const oid = execFileSync('git', ['--git-dir', remote, 'hash-object', '-t', 'commit', '-w', '--stdin'], {
      input: forged,
      encoding: 'utf8'
    }).trim();
    git(remote, 'update-ref', 'refs/heads/main', oid);
    const size = c.ledger.size;
    const err = await pull(
      c,
      url,
      await (await import('../../../src/lib/adapters/git/sealed.ts')).sealedFetch(c, keys)
    ).catch((e) => e);
    expect(err.code).toBe('COMMIT_REFUSED');
    expect(err.message).toContain(oid);
    expect(c.ledger.size).toBe(size);
  });
});
