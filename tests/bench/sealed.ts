/**
 * Sealed journal benchmark hook (issue 14), called by tests/bench/bench.ts through `bench(ctx)`; runnable alone:
 *   node tests/bench/sealed.ts [N]
 *
 *   sealed_push_10k_s           first push of an N-event ledger's sealed journal to a local `git http-backend`
 *                               (every event sealed and its commit signed by the epoch's archive key, then sent)
 *   sealed_clone_10k_s          clone of it with the team keys: every sealed commit opened, rebuilt and checked,
 *                               the readable commits rebuilt and checked, the ledger rebuilt and verified
 *   sealed_anchor_push_10k_s    the readable push of the same ledger in the same process (the anchor)
 *   sealed_anchor_clone_10k_s   the readable clone of it (the anchor)
 *   sealed_push_next_10k_s      one event more, pushed by a new process (a fresh journal over the same directory:
 *                               the sealed commit ids come from journal.git/sealed-commits, one event is sealed)
 *   sealed_anchor_push_next_10k_s  the same readable
 * Target: each sealed figure ≤ 1.2 × its anchor.
 */
import '@automerge/automerge';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryStorage } from '../../src/lib/adapters/storage/memory.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../src/lib/core/keys.ts';
import { GitJournal } from '../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../src/lib/adapters/git/node.ts';
import { clone, push, pushSealed } from '../../src/lib/adapters/git/remote.ts';
import { archiveKeys } from '../../src/lib/core/journal/sealed.ts';
import { newTeamKey } from '../../src/lib/core/team/teamkey.ts';
import { startGitServer } from '../helpers/git-http-server.ts';
import { buildLedger } from './journal.ts';
import { generationBodies } from './events.ts';
import type { EventType } from '../../src/lib/core/types.ts';

interface Ctx {
  n?: number;
  tmpDir?: string;
  log?: (s: string) => void;
}

export async function bench(ctx: Ctx = {}): Promise<Record<string, number>> {
  const n = ctx.n ?? 10_000;
  const log = ctx.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const tmp = mkdtempSync(path.join(ctx.tmpDir ?? tmpdir(), 'sealed-bench-'));
  const server = await startGitServer();
  const secs = (t0: number) => +((performance.now() - t0) / 1000).toFixed(2);
  try {
    log(`sealed: building a ledger of ${n} events`);
    const k = await generateDeviceKey(false);
    const ledger = await buildLedger(n, new MemoryStorage(), signerFromCryptoKey(k.privateKey, k.publicKey));
    const keys = await archiveKeys([newTeamKey(1)]);

    // The readable push and clone first (the anchor), then the sealed ones, each from its own fresh journal.
    server.createRepo('plain.git');
    const plainJournal = await GitJournal.attach(nodeBinding(path.join(tmp, 'a')), ledger);
    let t0 = performance.now();
    await push(plainJournal, server.url('plain.git'));
    const sealed_anchor_push_10k_s = secs(t0);
    t0 = performance.now();
    const plainClone = await clone(nodeBinding(path.join(tmp, 'b')), server.url('plain.git'), new MemoryStorage());
    const sealed_anchor_clone_10k_s = secs(t0);
    if (plainClone.ledger.size !== n)
      throw new Error(`the readable clone holds ${plainClone.ledger.size} events, not ${n}`);
    plainClone.detach();

    server.createRepo('sealed.git');
    const sealedJournal = await GitJournal.attach(nodeBinding(path.join(tmp, 'c')), ledger);
    t0 = performance.now();
    const r = await pushSealed(sealedJournal, server.url('sealed.git'), keys);
    const sealed_push_10k_s = secs(t0);
    if (r.sent !== n) throw new Error(`the sealed push sent ${r.sent} commits, not ${n}`);
    t0 = performance.now();
    const sealedClone = await clone(
      nodeBinding(path.join(tmp, 'd')),
      server.url('sealed.git'),
      new MemoryStorage(),
      undefined,
      keys
    );
    const sealed_clone_10k_s = secs(t0);
    if (sealedClone.ledger.size !== n)
      throw new Error(`the sealed clone holds ${sealedClone.ledger.size} events, not ${n}`);
    for (const ev of ledger.events().slice(-3)) {
      if (sealedClone.commitOf(ev.id) !== sealedJournal.commitOf(ev.id))
        throw new Error(`the sealed clone's commit of ${ev.id} differs`);
    }
    // One event more, pushed from a fresh journal over each directory (what the next CLI push does).
    await ledger.append(
      'generation' as EventType,
      generationBodies(1, { policySnapshot: ledger.events()[1].id, checklist: ledger.events()[2].id }, 77)[0]
    );
    plainJournal.detach();
    sealedJournal.detach();
    const plainNext = await GitJournal.attach(nodeBinding(path.join(tmp, 'a')), ledger);
    t0 = performance.now();
    await push(plainNext, server.url('plain.git'));
    const sealed_anchor_push_next_10k_s = secs(t0);
    const sealedNext = await GitJournal.attach(nodeBinding(path.join(tmp, 'c')), ledger);
    t0 = performance.now();
    const next = await pushSealed(sealedNext, server.url('sealed.git'), keys);
    const sealed_push_next_10k_s = secs(t0);
    if (next.sent !== 1) throw new Error(`the next sealed push sent ${next.sent} commits, not 1`);
    log(`sealed: next push ${sealed_push_next_10k_s} s (readable ${sealed_anchor_push_next_10k_s} s)`);
    log(
      `sealed: push ${sealed_push_10k_s} s (readable ${sealed_anchor_push_10k_s} s), clone ${sealed_clone_10k_s} s (readable ${sealed_anchor_clone_10k_s} s)`
    );
    return {
      sealed_push_10k_s,
      sealed_clone_10k_s,
      sealed_anchor_push_10k_s,
      sealed_anchor_clone_10k_s,
      sealed_push_next_10k_s,
      sealed_anchor_push_next_10k_s
    };
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await bench({ n: Number(process.argv[2] ?? 10_000) }), null, 2));
  process.exit(0);
}
