/**
 * Ledgers whose events lack a journal signature (`<id>.git`): verify says plainly what to do, and
 * `provenance-ledger journal repair` signs the commits of the events this device authored; events by another
 * author are named as only theirs to sign, and once that author has signed them, repair finishes the job.
 * A journal whose files are damaged is written again from the ledger, the damaged copy kept aside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generationBody, newSigner, steppingClock } from '../helpers/ledger.ts';

/** A generation with no prompt: these events are appended through the core, which keeps no prompt opening, and
 * verify holds this device to the openings of its own generations. */
function unprompted() {
  const { prompt: _none, ...body } = generationBody();
  return body;
}
import { deleteEntry } from '../helpers/doc-edit.ts';
import { cli, ROOT, tempDir } from '../cli/helpers.ts';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { saveIdentity } from '../../../src/lib/adapters/node/identity.ts';
import { initHash, sha256HexSync } from '../../../src/lib/core/hash.ts';
import { sigKey } from '../../../src/lib/core/journal/signatures.ts';
import { signMissing } from '../../../src/lib/adapters/git/repair.ts';
import { allowedSigners } from '../../../src/lib/core/journal/allowed-signers.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('pl-repair-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const gitIn = (gitdir: string, ...args: string[]) =>
  execFileSync('git', ['--git-dir', gitdir, ...args], { encoding: 'utf8', stdio: 'pipe' });

/**
 * DIR holding Ada's key and a ledger where Ada's event `a1`, Bob's event `b1` and Ada's `a2` (a child of `b1`)
 * were stored without their journal signatures.
 */
async function ledgerWithoutSignatures() {
  await initHash();
  const adaKey = await generateDeviceKey(true);
  const ada = signerFromCryptoKey(adaKey.privateKey, adaKey.publicKey);
  const bob = await newSigner();
  const now = steppingClock();
  const mem = new MemoryStorage();
  const ledger = await Ledger.create({ storage: mem, signer: ada, memberName: 'Ada', ledgerName: 'Studio', now });
  await ledger.append('member', {
    action: 'add',
    member: { id: 'bob', name: 'Bob', key: bob.publicKey, role: 'member' }
  });
  const a1 = await ledger.append('generation', unprompted());
  // Bob appends on his own device (a copy), then Ada receives his event with its signature.
  const copy = new MemoryStorage();
  for (const c of await mem.loadRange([])) await copy.save(c.key, c.data);
  const bobs = await Ledger.open({ storage: copy, signer: bob, now });
  const b1 = await bobs.append('generation', unprompted());
  await ledger.receive([
    [b1.id, bobs.envelopeJson(b1.id)!],
    [sigKey(b1.id), bobs.journalSignature(b1.id)!]
  ]);
  const a2 = await ledger.append('generation', unprompted());
  expect(a2.event.parents).toEqual([b1.id]);
  const doc = A.change(A.clone(ledger.doc), (d: any) => {
    for (const id of [a1.id, b1.id, a2.id]) deleteEntry(d, sigKey(id));
  });
  const dir = path.join(tmp.dir, `d${Math.random().toString(36).slice(2, 8)}`);
  const storage = await FsStorage.open(dir);
  const bytes = A.save(doc);
  await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
  await saveIdentity(storage, adaKey, 'Ada');
  return { dir, ada, bob, a1, b1, a2, now };
}

describe('journal repair', () => {
  it('verify says what to do; repair signs this device’s events, names the other author’s, and finishes once they sign', async () => {
    const { dir, bob, a1, b1, a2 } = await ledgerWithoutSignatures();
    const pl = cli(dir, ROOT);

    const v = await pl('verify', '--json');
    expect(v.code).toBe(1);
    const report = v.json();
    expect(
      report.problems
        .filter((p: any) => p.code === 'JOURNAL_SIGNATURE_MISSING')
        .map((p: any) => p.eventId)
        .sort()
    ).toEqual([a1.id, b1.id, a2.id].sort());
    expect(report.advice.join('\n')).toMatch(
      /2 event\(s\) authored by this device lack a journal signature: run `provenance-ledger journal repair/
    );
    expect(report.advice.join('\n')).toMatch(
      /1 event\(s\) by Bob \(key .*\) lack a journal signature: only their author can sign them/
    );
    const text = await pl('verify');
    expect(text.stdout).toMatch(/what to do: .*journal repair/);

    // Repair as Ada: a1 is signed; b1 is Bob's; a2 waits for b1 (its commit names b1's).
    const r1 = await pl('journal', 'repair', '--json');
    expect(r1.code).toBe(1);
    const j1 = r1.json();
    expect(j1.signed).toEqual([a1.id]);
    expect(j1.others).toEqual([{ author: bob.publicKey, name: 'Bob', events: [b1.id] }]);
    expect(j1.waiting).toEqual([a2.id]);
    const human = await pl('journal', 'repair');
    expect(human.stdout).toMatch(
      /1 event\(s\) by Bob \(key .*\) have no journal signature: only their author can sign them/
    );

    // Bob signs his event on a device holding his key (here: the same directory, his key in memory).
    const storage = await FsStorage.open(dir);
    const asBob = await Ledger.open({ storage });
    const rb = await signMissing(asBob, bob);
    expect(rb.signed).toEqual([b1.id]);
    expect(rb.others.map((o) => o.events)).toEqual([[a2.id]]);

    const r2 = await pl('journal', 'repair', '--json');
    expect(r2.code).toBe(0);
    expect(r2.json().signed).toEqual([a2.id]);
    expect((await pl('verify', '--json')).json().ok).toBe(true);
    const gitdir = path.join(dir, 'journal.git');
    gitIn(gitdir, 'fsck', '--strict');
    const reopened = await Ledger.open({ storage: await FsStorage.open(dir) });
    const signers = path.join(dir, 'allowed');
    writeFileSync(signers, allowedSigners(reopened.roster(), reopened.name));
    for (const ev of reopened.events())
      gitIn(
        gitdir,
        '-c',
        'gpg.format=ssh',
        '-c',
        `gpg.ssh.allowedSignersFile=${signers}`,
        'verify-commit',
        reopened.commitOf(ev.id)!
      );
    expect(gitIn(gitdir, 'rev-list', '--count', 'main').trim()).toBe(String(reopened.size));
  });

  it('a damaged journal is written again from the ledger, the damaged copy kept aside', async () => {
    const { dir, bob } = await ledgerWithoutSignatures();
    const pl = cli(dir, ROOT);
    expect((await pl('journal', 'repair', '--json')).code).toBe(1); // Ada's a1; a2 waits for Bob's b1
    await signMissing(await Ledger.open({ storage: await FsStorage.open(dir) }), bob);
    expect((await pl('journal', 'repair', '--json')).code).toBe(0);
    // Damage one byte in the middle of the journal's pack: the object whose entry holds it is named.
    const gitdir = path.join(dir, 'journal.git');
    const packDir = path.join(gitdir, 'objects', 'pack');
    const pack = path.join(
      packDir,
      readdirSync(packDir).find((f) => f.endsWith('.pack'))!
    );
    const entries = gitIn(gitdir, 'verify-pack', '-v', pack.replace(/\.pack$/, '.idx'))
      .split('\n')
      .map((l) => l.split(/\s+/))
      .filter((f) => /^[0-9a-f]{40}$/.test(f[0]) && f.length >= 5)
      .map((f) => ({ oid: f[0], size: Number(f[3]), offset: Number(f[4]) }));
    const bytes = readFileSync(pack);
    const at = Math.floor(bytes.length / 2);
    const hit = entries.find((e) => e.offset <= at && at < e.offset + e.size)!;
    bytes[at] ^= 0x20;
    writeFileSync(pack, bytes);
    const v = (await pl('verify', '--json')).json();
    expect(v.problems.map((p: any) => [p.code, p.location])).toContainEqual([
      'JOURNAL_CORRUPT',
      `journal object ${hit.oid}`
    ]);
    expect(v.advice.join('\n')).toMatch(/journal repair/);
    const r = await pl('journal', 'repair', '--json');
    expect(r.code).toBe(0);
    expect(r.json().rewritten).toBe(true);
    expect(readdirSync(dir).some((f) => f.startsWith('journal.git.damaged-'))).toBe(true);
    expect((await pl('verify', '--json')).json().ok).toBe(true);
    gitIn(gitdir, 'fsck', '--strict');
  });
});
