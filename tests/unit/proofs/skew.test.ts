/**
 * A device whose clock is behind (ledger-schema/README.md section 10). Earlier writers gave its events their newest
 * parent's time, so a generation recorded right after the device joined had exactly the time of the member event
 * that added its author; with a smaller id, sorting by (time, id) put it before that member event: (time, id) is
 * then not a topological order. `verify` accepts such an event, and so must a bundle about it (the bundle verifier
 * replays the member events parents first, (time, id) only breaking ties). Today's writer dates the child one
 * millisecond after its newest parent instead.
 *
 * The legacy case is made on purpose, never left to luck: Grace's generation is signed with her add's time and
 * that add as its only parent, with another file each try until its id is the smaller; the test asserts the case
 * was reached.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/lib/core/ledger.ts';
import { signerFromCryptoKey } from '../../../src/lib/core/keys.ts';
import { signEvent, type LedgerEvent } from '../../../src/lib/core/event.ts';
import { canonicalJson } from '../../../src/lib/core/canonical.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { DeviceLog } from '../../../src/lib/core/proofs/log.ts';
import { buildBundle } from '../../../src/lib/core/proofs/bundle-build.ts';
import { verifyBundle } from '../../../src/lib/core/proofs/bundle-verify.ts';
import { describeFacts } from '../../../src/lib/core/proofs/report.ts';
import { witnessCheckpoint } from '../../../src/lib/core/proofs/witness.ts';
import { generationBody, steppingClock } from '../helpers/ledger.ts';
import { fixedKey } from './fixture.ts';
import { copyDoc } from './helpers.ts';
import { BIN, ROOT } from '../cli/helpers.ts';
import { docs, useCliTeam } from '../sync/cli-team.ts';

/** The most copies tried: each has an even chance, so reaching the case fails only with odds of 2^-TRIES. */
const TRIES = 40;
const HOUR = 3600_000;

/** The (time, id) order the spec's section 10 claims is topological. */
const sortsBefore = (a: LedgerEvent, b: LedgerEvent) =>
  a.event.time < b.event.time || (a.event.time === b.event.time && a.id < b.id);

describe("a device whose clock is behind: an event with its parent member event's time and a smaller id", () => {
  it("core: a legacy event with its parent's time and a smaller id: the ledger verifies and a bundle about it builds and verifies, from either device's log", async () => {
    // Fixed keys and clocks: the same ledger, the same trials and the same outcome at every run.
    const adaKey = await fixedKey(0x31);
    const graceKey = await fixedKey(0x32);
    const ada = signerFromCryptoKey(adaKey.privateKey, adaKey.publicKey);
    const grace = signerFromCryptoKey(graceKey.privateKey, graceKey.publicKey);
    const adaStorage = new MemoryStorage();
    const start = Date.parse('2026-11-02T09:00:00.000Z');
    const adaLedger = await Ledger.create({
      storage: adaStorage,
      signer: ada,
      memberName: 'Ada',
      memberId: 'ada',
      ledgerName: 'Studio',
      now: steppingClock(start)
    });
    const adaLog = await DeviceLog.attach(adaLedger, adaStorage, { signer: ada });
    await adaLedger.append('generation', generationBody());
    const add = await adaLedger.append('member', {
      action: 'add',
      member: { id: 'grace', name: 'Grace', key: grace.publicKey, role: 'member' }
    });
    await adaLog.settled();

    // Grace's device: Ada's document (what join gives her), her clock an hour behind Ada's. Today's writer dates
    // her generation one millisecond after its parent, so (time, id) stays topological.
    const storage = await copyDoc(adaStorage);
    const graceLedger = await Ledger.open({ storage, signer: grace, now: steppingClock(start - HOUR) });
    const now = await (
      await Ledger.open({ storage: await copyDoc(adaStorage), signer: grace, now: steppingClock(start - HOUR) })
    ).append('generation', generationBody());
    expect(Date.parse(now.event.time)).toBe(Date.parse(add.event.time) + 1);

    // The legacy shape, as an earlier writer signed it: the add's time, the add as only parent, a smaller id.
    let found: { gen: LedgerEvent; json: string; sha256: string } | undefined;
    for (let k = 0; k < TRIES && !found; k++) {
      const sha256 = createHash('sha256').update(`glTF of the skewed robot #${k}`).digest('hex');
      const body = generationBody({ outputs: [{ name: 'skewed.glb', format: 'glb', size: 4096, sha256 }] });
      const { id, envelope } = await signEvent(
        {
          spec: add.event.spec,
          type: 'generation',
          ledger: adaLedger.id,
          author: grace.publicKey,
          time: add.event.time,
          parents: [add.id],
          body
        } as never,
        grace
      );
      if (id < add.id)
        found = {
          gen: { id, event: envelope.event, sig: envelope.sig } as LedgerEvent,
          json: canonicalJson(envelope),
          sha256
        };
    }
    expect(found, `no generation among ${TRIES} had a smaller id than the member event`).toBeDefined();
    const g = { ...found!, ledger: graceLedger, storage };
    expect(sortsBefore(g.gen, add)).toBe(true); // the shape of the bug: (time, id) puts the child first

    // Both devices hold the event and it counts: verify is clean on both.
    for (const l of [adaLedger, graceLedger]) {
      const received = await l.receive([[g.gen.id, g.json]]);
      expect(received.problems).toEqual([]);
      expect(received.accepted).toEqual([g.gen.id]);
    }
    await adaLog.settled();
    for (const l of [adaLedger, g.ledger]) {
      const report = await l.verify();
      // The hand-signed event has no journal commit signature (only its author's old writer made one): every event
      // check passes, the journal reports the missing commit.
      expect(report.problems.filter((p) => !p.code.startsWith('JOURNAL'))).toEqual([]);
    }

    // A bundle about the file, from Grace's log (witnessed by Ada) and from Ada's (witnessed by Grace).
    const graceLog = await DeviceLog.attach(g.ledger, g.storage, { signer: grace });
    const subject = { sha256: g.sha256, name: 'skewed.glb' };
    for (const [who, ledger, log, signer, witness] of [
      ['Grace', g.ledger, graceLog, grace, ada],
      ['Ada', adaLedger, adaLog, ada, grace]
    ] as const) {
      const note = await log.checkpoint(ledger.id, signer);
      const w = await witnessCheckpoint({
        ledgerId: ledger.id,
        memberKeys: ledger
          .roster()
          .filter((m) => m.active)
          .map((m) => m.key),
        note,
        proof: [],
        signer: witness,
        now: () => 1_800_000_000
      });
      await log.addCosignatures(w.note);
      const { bytes, bundle } = await buildBundle({ ledger, log, logPublicKey: signer.publicKey, subject });
      expect(bundle.events).toHaveLength(3); // genesis, Grace's add, her generation (not Ada's unrelated one)
      const res = await verifyBundle(bytes, [{ name: 'skewed.glb', sha256: g.sha256 }]);
      expect(res.failures, `${who}'s log`).toEqual([]);
      expect(res.ok).toBe(true);
      const words = describeFacts(res.facts!).join('\n');
      expect(words).toMatch(
        new RegExp(
          `skewed\\.glb \\(sha256 ${g.sha256}\\) was recorded as output of a generation on Tripo .* by Grace \\(key [0-9a-f]{16}\\) at ${add.event.time};`
        )
      );
    }
  });
});

// ------------------------------------------------------------------------------------------------ real processes

const SKEW_PRELOAD = path.join(ROOT, 'tests/helpers/skew-clock.mjs');
/** The environment of Grace's CLI: her clock an hour behind. */
const BEHIND = {
  NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${SKEW_PRELOAD}`].filter(Boolean).join(' '),
  PL_TEST_CLOCK_SKEW_MS: String(-HOUR)
};

const { dir, relayUrl, startInvite } = useCliTeam('pl-skew-');

/** Every process this file starts, killed at the end if still running. */
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <args>` (the CLI when args start with BIN) with a clean environment (no PROVENANCE_LEDGER_*) plus
 * `env`; killed after `timeoutMs` (then code is null and stderr says so).
 */
function runNode(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Ran> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('PROVENANCE_LEDGER_') && !k.startsWith('PL_TEST_')) clean[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms: ${args.slice(1, 2).join(' ')}]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}
const pl = (args: string[], env?: Record<string, string>) => runNode([BIN, ...args], env);
const said = (r: Ran) => `exit ${r.code}\n${r.stdout}${r.stderr}`;

describe('a device whose clock is behind, through the relay with real processes', () => {
  it("the preload puts a process's clock an hour behind, and does nothing without its variable", async () => {
    const probe = [
      '-e',
      'process.stdout.write(JSON.stringify([Date.now(), new Date().getTime(), new Date(0).getTime()]))'
    ];
    const before = Date.now();
    const behind = JSON.parse((await runNode(probe, BEHIND)).stdout);
    const plain = JSON.parse((await runNode(probe, { NODE_OPTIONS: BEHIND.NODE_OPTIONS })).stdout);
    const after = Date.now();
    for (const t of behind.slice(0, 2)) {
      expect(t).toBeGreaterThanOrEqual(before - HOUR);
      expect(t).toBeLessThanOrEqual(after - HOUR);
    }
    for (const t of plain.slice(0, 2)) {
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
    expect(behind[2]).toBe(0);
  });

  it('Grace joins an hour behind and records a generation: it is dated just after her add, and verify, prove and verify-bundle accept it', async () => {
    const relay = ['--relay', relayUrl()];
    const init = await pl(['init', '--ledger', dir('ada'), '--name', 'Ada', '--ledger-name', 'Studio']);
    expect(init.code, said(init)).toBe(0);
    const rec = await pl([
      'record',
      'checklist',
      '--ledger',
      dir('ada'),
      '--project',
      'Robots',
      '--classification',
      'client',
      '--classified'
    ]);
    expect(rec.code, said(rec)).toBe(0);

    const inv = await startInvite('ada', '--role', 'member');
    const join = await pl(
      ['join', inv.code, '--ledger', dir('grace-joined'), '--name', 'Grace', ...relay, '--json'],
      BEHIND
    );
    expect(join.code, said(join)).toBe(0);
    expect(await inv.done).toContain('joined');
    const log = await pl(['log', '--ledger', dir('grace-joined'), '--json']);
    expect(log.code, said(log)).toBe(0);
    const add = JSON.parse(log.stdout).events.find(
      (e: any) => e.type === 'member' && e.body.action === 'add' && e.body.member.name === 'Grace'
    );
    expect(add, log.stdout).toBeDefined();

    // Grace records a generation with her clock an hour behind: it is dated one millisecond after her add.
    const grace = { dir: dir('grace-joined') };
    const file = dir('skewed.glb');
    await writeFile(file, 'glTF of the skewed robot\n');
    const r = await pl(
      [
        'record',
        'generation',
        '--ledger',
        grace.dir,
        '--platform',
        'Tripo',
        '--prompt',
        'a brass robot, low poly',
        '--output',
        file,
        '--project',
        'Robots',
        '--classification',
        'client',
        '--json'
      ],
      BEHIND
    );
    expect(r.code, said(r)).toBe(0);
    const gen = JSON.parse(r.stdout).event;
    expect(gen.author.name).toBe('Grace');
    expect(gen.parents).toEqual([add.id]);
    expect(Date.parse(gen.time)).toBe(Date.parse(add.time) + 1);

    // Sync both ways (each sync also witnesses the other's log); both hold the generation and verify clean.
    const [sa, sg] = await Promise.all([
      pl(['sync', '--ledger', dir('ada'), ...relay, '--once', '--json']),
      pl(['sync', '--ledger', grace!.dir, ...relay, '--once', '--json'], BEHIND)
    ]);
    expect(sa.code, said(sa)).toBe(0);
    expect(sg.code, said(sg)).toBe(0);
    expect(
      docs(sg.stdout)
        .at(-1)
        .witnessed.map((w: { name: string }) => w.name),
      sg.stdout
    ).toContain('Ada');
    for (const [who, d, env] of [
      ['Ada', dir('ada'), {}],
      ['Grace', grace!.dir, BEHIND]
    ] as const) {
      const shown = await pl(['show', gen.id, '--ledger', d, '--json'], env);
      expect(shown.code, `${who}: ${said(shown)}`).toBe(0);
      const v = await pl(['verify', '--ledger', d], env);
      expect(v.code, `${who}: ${said(v)}`).toBe(0);
    }

    // prove on Grace's device (witnessed by Ada at the sync), and on Ada's (unwitnessed allowed); verify-bundle.
    for (const [who, d, extra, env] of [
      ['Grace', grace!.dir, [], BEHIND],
      ['Ada', dir('ada'), ['--unwitnessed'], {}]
    ] as const) {
      const bundle = dir(`${who}.bundle.json`);
      const proved = await pl(['prove', file, '--ledger', d, '--out', bundle, ...extra], env);
      expect(proved.code, `prove on ${who}'s device: ${said(proved)}`).toBe(0);
      const checked = await pl(['verify-bundle', bundle, '--file', file]);
      expect(checked.code, `verify-bundle of ${who}'s bundle: ${said(checked)}`).toBe(0);
      expect(checked.stdout).toMatch(/^VALID/);
      expect(checked.stdout).toMatch(
        new RegExp(
          `${path.basename(file).replace('.', '\\.')} \\(sha256 [0-9a-f]{64}\\) was recorded as output of a generation on Tripo .* by Grace \\(key [0-9a-f]{16}\\) at ${gen.time};`
        )
      );
      if (who === 'Grace') expect(checked.stdout).toMatch(/witnessed by Ada at /);
    }
  }, 60_000);
});
