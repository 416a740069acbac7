/**
 * Benchmark hook for the command line (issue 13, "a CLI that answers at once"): whole processes of the bin,
 * called directly as a user on PATH calls it (`node bin/provenance-ledger.js …`, no npx), each timed from spawn
 * to exit, medians of `runs` (default 9) in round robin with the anchor. `npm run bench -- --only cli`; alone,
 * `node tests/bench/cli.ts` prints the figures as JSON.
 *
 *   node_startup_ms       the anchor: `node -e 0` under the same Node.
 *   cli_log_20_ms         `log` of a ledger of 20 events (genesis and 19 checklists), its read index current.
 *   cli_log_10k_ms        `log` of the bench's ledger of n + 3 events (10,003), read index current.
 *   cli_trace_10k_ms      `trace FILE` on that ledger, FILE one of its generations' outputs (chain found).
 *   cli_show_10k_ms       `show ID` on that ledger (no target; for reference).
 *   cli_log_10k_full_ms   `log` of the same ledger with the read index switched off (PROVENANCE_LEDGER_READ_INDEX=off):
 *                         what every read cost before it, and what a read costs after a change no command indexed.
 *   *_cpu_ms              the CPU time (user + system) of each of the above, from /usr/bin/time when present:
 *                         it moves far less than wall time with the load of a shared machine.
 *
 * The ledgers get this device's identity (the bench's key, as `key import` stores it) and their read index from
 * one `compact` through the CLI (a command that writes the document writes the index). Before timing, each
 * command's output is checked (the events' count, the chain found) and one untimed run builds the CLI's
 * prebuilt JavaScript if a source changed.
 */
import '@automerge/automerge';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FsStorage } from '../../src/lib/adapters/storage/fs.ts';
import { saveIdentity } from '../../src/lib/adapters/node/identity.ts';
import { Ledger } from '../../src/lib/core/ledger.ts';
import { generateDeviceKey, importPrivateKey, signerFromCryptoKey } from '../../src/lib/core/keys.ts';
import { checklistBody } from './events.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(HERE, '../../bin/provenance-ledger.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Spawns one Node process, resolves with its wall time (ms), exit code and output. */
const timed = (args: string[], env: Record<string, string> = {}) => timedCommand(process.execPath, args, env);

function timedCommand(
  command: string,
  args: string[],
  env: Record<string, string> = {}
): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
  });
}

const cli = (dir: string, ...args: string[]) => [BIN, ...args, '--ledger', dir];

/** The device identity of a ledger directory from a PKCS#8 key, then its read index through the CLI. */
async function prepare(dir: string, pkcs8: Uint8Array): Promise<void> {
  const key = await importPrivateKey(pkcs8, true);
  await saveIdentity(await FsStorage.open(dir), key, 'Ada Moreau');
  const c = spawnSync(process.execPath, cli(dir, 'compact'), { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`compact failed: ${c.stderr}`);
}

export async function bench(
  ctx: {
    n?: number;
    runs?: number;
    tmpDir?: string;
    log?: (m: string) => void;
    ledgerDir?: string;
    keyFile?: string;
  } = {}
) {
  const runs = ctx.runs ?? 9;
  const say = ctx.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const tmp = mkdtempSync(path.join(ctx.tmpDir ?? tmpdir(), 'cli-'));
  try {
    // 20 events: genesis and 19 checklists, appended by the core, then the identity and the index.
    const small = path.join(tmp, 'l20');
    const k = await generateDeviceKey(true);
    const ledger = await Ledger.create({
      storage: await FsStorage.open(small),
      signer: signerFromCryptoKey(k.privateKey, k.publicKey),
      memberName: 'Ada Moreau',
      ledgerName: 'Bench'
    });
    for (let i = 0; i < 19; i++)
      await ledger.append('checklist', {
        ...checklistBody('0'.repeat(64)),
        policySnapshots: [],
        project: `Project ${i}`
      });
    await ledger.flushed();
    const { exportPrivateKey } = await import('../../src/lib/core/keys.ts');
    await prepare(small, await exportPrivateKey(k.privateKey));

    // 10k: the bench's ledger when it made one, else one made here by worker.ts.
    const big = path.join(tmp, 'l10k');
    let keyFile = ctx.keyFile;
    if (ctx.ledgerDir && keyFile) {
      cpSync(ctx.ledgerDir, big, { recursive: true });
    } else {
      say(`  cli: making a ledger of ${ctx.n ?? 10_000} events (worker.ts append, compact)`);
      for (const task of [['append', '--n', String(ctx.n ?? 10_000)], ['compact']]) {
        const r = spawnSync(process.execPath, [path.join(HERE, 'worker.ts'), task[0], '--dir', big, ...task.slice(1)], {
          encoding: 'utf8'
        });
        if (r.status !== 0) throw new Error(`worker ${task[0]} failed: ${r.stderr.slice(-2000)}`);
      }
      keyFile = `${path.resolve(big)}.key`;
    }
    await prepare(big, new Uint8Array(readFileSync(keyFile)));

    // A file whose bytes hash to an output of a generation (events.ts: sha256 of "<seed>/<i>/gltf").
    const traced = path.join(tmp, 'robot.gltf');
    writeFileSync(traced, '1/500/gltf');

    // Checks, and the untimed first runs (a prebuilt CLI made if a source changed).
    const log20 = JSON.parse((await timed(cli(small, 'log', '--json'))).stdout);
    if (log20.count !== 20) throw new Error(`log of the small ledger: ${log20.count} events, not 20`);
    const log10k = await timed(cli(big, 'log', '--json'), { PROVENANCE_LEDGER_READ_INDEX: 'report' });
    const count = JSON.parse(log10k.stdout).count;
    if (!log10k.stderr.includes('read index: used'))
      throw new Error(`log of the big ledger did not use its read index: ${log10k.stderr}`);
    const tr = JSON.parse((await timed(cli(big, 'trace', traced, '--json'))).stdout);
    if (!tr.found) throw new Error('trace: the file is not found in the big ledger');
    const someId = JSON.parse(log10k.stdout).events[count >> 1].id as string;
    const shown = await timed(cli(big, 'show', someId.slice(0, 12)));
    if (shown.code !== 0 || !shown.stdout.includes(someId)) throw new Error(`show failed: ${shown.stderr}`);
    say(`  cli: ledgers of 20 and ${count} events ready; trace finds ${tr.events.length} events; ${runs} runs each`);

    const cmds: Record<string, [string[], Record<string, string>?]> = {
      node_startup_ms: [['-e', '0']],
      cli_log_20_ms: [cli(small, 'log')],
      cli_log_10k_ms: [cli(big, 'log')],
      cli_trace_10k_ms: [cli(big, 'trace', traced)],
      cli_show_10k_ms: [cli(big, 'show', someId.slice(0, 12))]
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
    for (let r = 0; r < runs; r++) {
      for (const [key, [args, env]] of Object.entries(cmds)) {
        const res = await timed(args, env);
        if (res.code !== 0) throw new Error(`${key}: exit ${res.code}: ${res.stderr}`);
        times[key].push(res.ms);
      }
    }
    // CPU time (user + system) of the same commands, which moves far less with the machine's load than wall
    // time: GNU time's figures (10 ms resolution), when /usr/bin/time is there.
    const cpu: Record<string, number[]> = {};
    if (existsSync('/usr/bin/time')) {
      for (let r = 0; r < Math.min(5, runs); r++) {
        for (const [key, [args, env]] of Object.entries(cmds)) {
          const res = await timedCommand('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, ...args], env);
          const m = /cpu (\d+\.\d+) (\d+\.\d+)\s*$/.exec(res.stderr);
          if (res.code !== 0 || !m)
            throw new Error(`${key} under /usr/bin/time: exit ${res.code}: ${res.stderr.slice(-500)}`);
          (cpu[key.replace(/_ms$/, '_cpu_ms')] ??= []).push((Number(m[1]) + Number(m[2])) * 1000);
        }
      }
    }
    const full: number[] = [];
    for (let r = 0; r < Math.min(3, runs); r++)
      full.push((await timed(cli(big, 'log'), { PROVENANCE_LEDGER_READ_INDEX: 'off' })).ms);

    const json: Record<string, number> = { cli_events_10k: count };
    for (const [key, xs] of Object.entries(times)) json[key] = Math.round(median(xs));
    json.cli_log_10k_full_ms = Math.round(median(full));
    for (const [key, xs] of Object.entries(cpu)) json[key] = Math.round(median(xs));
    const startup = json.node_startup_ms;
    const rows = [
      {
        figure: 'cli_log_20_ms',
        value: json.cli_log_20_ms,
        unit: 'ms',
        anchor: 'node_startup_ms',
        anchorValue: startup,
        target: '≤ 2 × node -e 0',
        pass: json.cli_log_20_ms <= 2 * startup
      },
      {
        figure: 'cli_log_10k_ms',
        value: json.cli_log_10k_ms,
        unit: 'ms',
        anchor: 'node_startup_ms',
        anchorValue: startup,
        target: '≤ 500 ms',
        pass: json.cli_log_10k_ms <= 500
      },
      {
        figure: 'cli_trace_10k_ms',
        value: json.cli_trace_10k_ms,
        unit: 'ms',
        anchor: 'node_startup_ms',
        anchorValue: startup,
        target: '≤ 500 ms',
        pass: json.cli_trace_10k_ms <= 500
      },
      {
        figure: 'cli_show_10k_ms',
        value: json.cli_show_10k_ms,
        unit: 'ms',
        anchor: 'node_startup_ms',
        anchorValue: startup
      },
      {
        figure: 'cli_log_10k_full_ms',
        value: json.cli_log_10k_full_ms,
        unit: 'ms',
        note: 'log with the read index off (a full load of the document): median of 3'
      },
      { figure: 'node_startup_ms', value: startup, unit: 'ms' },
      ...Object.keys(cpu)
        .filter((k) => k !== 'node_startup_cpu_ms')
        .map((k) => ({
          figure: k,
          value: json[k],
          unit: 'ms',
          anchor: 'node_startup_cpu_ms',
          anchorValue: json.node_startup_cpu_ms,
          note: 'CPU time (user + system, /usr/bin/time), median of 5'
        })),
      ...(cpu.node_startup_cpu_ms
        ? [{ figure: 'node_startup_cpu_ms', value: json.node_startup_cpu_ms, unit: 'ms' }]
        : [])
    ];
    return { json, rows };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await bench({ runs: Number(process.argv[process.argv.indexOf('--runs') + 1]) || undefined });
  process.stdout.write(JSON.stringify(out.json, null, 2) + '\n');
  process.exit(0);
}
