/**
 * The 100k-event phase (issue 13): `npm run bench -- --scale` (not among the default phases: it takes minutes).
 * Runnable alone: `node tests/bench/scale.ts [--n 100000] [--small 10000] [--runs 1]`.
 *
 * The ledger is built once with the bench's bulk path (worker.ts append: 256 appends in flight, one Automerge
 * change and one chunk per group), compacted, its Git journal written (`journal status` attaches it), and kept
 * in a cache directory keyed by this builder's version and the event generator's source (PL_BENCH_CACHE, else
 * ~/.cache/provenance-ledger-bench/scale-N-VERSION). Each run copies it and measures the real CLI, each command
 * in a process of its own under `/usr/bin/time` (wall time and peak RSS), against a real `git http-backend`:
 *
 *   push_100k_s        provenance-ledger push [--plain] of the whole journal to an empty bare repository
 *   clone_100k_s       provenance-ledger clone of it into a new directory (every event and commit checked)
 *   verify_100k_ms     ledger.verify() of the 100k ledger in a fresh process (what verify_10k_ms measures)
 *   cli_verify_100k_ms provenance-ledger verify (the document, the journal, every other file)
 *   peak_rss_100k_mb   the highest peak RSS of those processes (MiB)
 *
 * Anchors of the same run: `git push` of the same journal.git to another empty bare repository over the same
 * server (git_push_100k_s), `git clone` of that (git_clone_100k_s), and verify_10k_ms measured the same way on a
 * 10,003-event ledger built (and cached) the same way. Targets: ≤ 2 × git push, ≤ 3 × git clone,
 * ≤ 10 × verify_10k_ms, ≤ 1,024 MiB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '../..');
const CLI = path.join(ROOT, 'bin/provenance-ledger.js');
/** Bump when the way the cached ledger is built changes (its events, its layout, what is written beside it). */
const BUILDER_VERSION = 1;

interface Ctx {
  n?: number;
  runs?: number;
  tmpDir?: string;
  log?: (s: string) => void;
}

interface Timed {
  code: number;
  s: number;
  rssMb: number;
  stdout: string;
  stderr: string;
}

/** Runs a command under /usr/bin/time: its wall time and peak RSS (the command's own process tree's largest). */
export function timed(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}
): Promise<Timed> {
  const stats = path.join(mkdtempSync(path.join(os.tmpdir(), 'pl-scale-time-')), 'time');
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', '%e %M', '-o', stats, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const text = readFileSync(stats, 'utf8').trim().split('\n').pop()!;
      rmSync(path.dirname(stats), { recursive: true, force: true });
      const [s, kb] = text.split(' ').map(Number);
      resolve({ code: code ?? 1, s, rssMb: Math.round(kb / 1024), stdout, stderr });
    });
  });
}

const node = (script: string, args: Array<string | number>) =>
  [process.execPath, [script, ...args.map(String)]] as const;

function must(r: Timed, what: string): Timed {
  if (r.code !== 0)
    throw new Error(
      `${what} failed (exit ${r.code}):\n${(r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n')}`
    );
  return r;
}

/** The cache directory of a built ledger of `n` events (n - 3 generations after genesis, policy and checklist). */
function cacheDirFor(n: number): string {
  const root = process.env.PL_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'provenance-ledger-bench');
  const source = createHash('sha256')
    .update(`${BUILDER_VERSION}\n`)
    .update(readFileSync(path.join(HERE, 'events.ts')))
    .digest('hex')
    .slice(0, 12);
  return path.join(root, `scale-${n}-${source}`);
}

/**
 * The cached ledger of `n` events with its journal (DIR/ledger, its key DIR/ledger.key), built when missing:
 * bulk appends (not durable: a build, not a measurement), compaction, the journal written by `journal status`.
 * Built in a temporary folder beside the cache entry and renamed into place, so a cut-short build is never used.
 */
export async function cachedLedger(n: number, log: (s: string) => void): Promise<string> {
  const dir = cacheDirFor(n);
  if (existsSync(path.join(dir, 'ready'))) {
    log(`scale: the ${n}-event ledger from the cache, ${dir}`);
    return path.join(dir, 'ledger');
  }
  mkdirSync(path.dirname(dir), { recursive: true });
  const build = mkdtempSync(`${dir}.building-`);
  const ledger = path.join(build, 'ledger');
  log(`scale: building a ${n}-event ledger (bulk appends) in ${build}; it is kept in ${dir}`);
  const t = performance.now();
  must(
    await timed(...node(path.join(HERE, 'worker.ts'), ['append', '--dir', ledger, '--n', n - 3, '--window', 256])),
    'the bulk appends'
  );
  must(await timed(...node(path.join(HERE, 'worker.ts'), ['compact', '--dir', ledger])), 'compact');
  must(
    await timed(process.execPath, [CLI, '--ledger', ledger, 'journal', 'status']),
    'writing the journal (journal status)'
  );
  log(`scale: built in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  // ready last: a build cut short before it is never taken for a whole one.
  spawnSync('touch', [path.join(build, 'ready')]);
  rmSync(dir, { recursive: true, force: true });
  renameSync(build, dir);
  return path.join(dir, 'ledger');
}

/** A copy of a cached ledger (push and clone write beside the journal: remote records, tracking refs). */
function copyOf(src: string, tmp: string, name: string): string {
  const dst = path.join(tmp, name);
  const r = spawnSync('cp', ['-a', src, dst]);
  if (r.status !== 0) cpSync(src, dst, { recursive: true });
  return dst;
}

/** `--verify DIR --runs R` in a process of its own: ledger.verify() timed R times (ms), as worker.ts verify times it. */
async function verifyChild(dir: string, runs: number): Promise<void> {
  await import('@automerge/automerge');
  const { FsStorage } = await import('../../src/lib/adapters/storage/fs.ts');
  const { Ledger } = await import('../../src/lib/core/ledger.ts');
  const ledger = await Ledger.open({ storage: await FsStorage.open(dir, { durable: true }) });
  const times: number[] = [];
  let report;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    report = await ledger.verify();
    times.push(performance.now() - t);
  }
  process.stdout.write(JSON.stringify({ times, ok: report!.ok, valid: report!.valid, size: ledger.size }) + '\n', () =>
    process.exit(0)
  );
}

async function verifyTimes(dir: string, runs: number, expected: number): Promise<{ ms: number; rssMb: number }> {
  const r = must(
    await timed(...node(fileURLToPath(import.meta.url), ['--verify', dir, '--runs', runs])),
    `ledger.verify() of ${dir}`
  );
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    times: number[];
    ok: boolean;
    valid: number;
    size: number;
  };
  if (!out.ok || out.valid !== expected || out.size !== expected)
    throw new Error(`ledger.verify() of ${dir}: ${out.valid} of ${out.size} events valid, expected ${expected}`);
  const s = [...out.times].sort((a, b) => a - b);
  return { ms: s[s.length >> 1], rssMb: r.rssMb };
}

export async function bench(ctx: Ctx = {}) {
  const n = ctx.n && ctx.n >= 50_000 ? ctx.n : 100_000;
  const small = 10_003;
  const log = ctx.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const k = n % 1000 === 0 ? `${n / 1000}k` : String(n);
  const tmp = mkdtempSync(path.join(ctx.tmpDir ?? os.tmpdir(), 'scale-'));
  const { startGitServer } = await import('../helpers/git-http-server.ts');
  const server = await startGitServer();
  try {
    const big = await cachedLedger(n, log);
    const little = await cachedLedger(small, log);
    const plain = (await timed(process.execPath, [CLI, 'push', '--help'])).stdout.includes('--plain')
      ? ['--plain']
      : [];

    // verify: ledger.verify() in a fresh process, 100k and 10k alike; and the CLI's whole verify of the 100k.
    const v10 = await verifyTimes(copyOf(little, tmp, 'v10'), ctx.runs ?? 3, small);
    log(`scale: verify_10k_ms ${v10.ms.toFixed(0)}`);
    const v100 = await verifyTimes(copyOf(big, tmp, 'v100'), 1, n);
    log(`scale: verify_${k}_ms ${v100.ms.toFixed(0)} (peak RSS ${v100.rssMb} MiB)`);
    const cliVerify = must(
      await timed(process.execPath, [CLI, '--ledger', copyOf(big, tmp, 'cv'), 'verify']),
      'provenance-ledger verify'
    );
    log(`scale: provenance-ledger verify ${cliVerify.s} s (peak RSS ${cliVerify.rssMb} MiB)`);

    // push: ours, then stock git push of the same journal.git, each to an empty bare repository on the same server.
    const pushDir = copyOf(big, tmp, 'push');
    server.createRepo('ours.git');
    server.createRepo('git.git');
    const push = must(
      await timed(process.execPath, [CLI, '--ledger', pushDir, 'push', ...plain, '--json', server.url('ours.git')]),
      'provenance-ledger push'
    );
    const pushed = JSON.parse(push.stdout) as { newCommits: number; commits: number };
    if (pushed.newCommits !== n || pushed.commits !== n)
      throw new Error(`push sent ${pushed.newCommits} commits of ${pushed.commits}, expected ${n}`);
    log(`scale: push ${push.s} s (peak RSS ${push.rssMb} MiB)`);
    const gitPush = must(
      await timed('git', [
        '--git-dir',
        path.join(copyOf(big, tmp, 'gitpush'), 'journal.git'),
        'push',
        '-q',
        server.url('git.git'),
        'refs/heads/main:refs/heads/main'
      ]),
      'git push'
    );
    log(`scale: git push ${gitPush.s} s (peak RSS ${gitPush.rssMb} MiB)`);
    const count = (repo: string) =>
      Number(
        spawnSync('git', ['--git-dir', path.join(server.root, repo), 'rev-list', '--count', 'main'], {
          encoding: 'utf8'
        }).stdout.trim()
      );
    if (count('ours.git') !== n || count('git.git') !== n)
      throw new Error(`the remotes hold ${count('ours.git')} and ${count('git.git')} commits, expected ${n}`);

    // clone: ours rebuilds a verifying ledger; git clone of the stock push.
    const clone = must(
      await timed(process.execPath, [
        CLI,
        '--ledger',
        path.join(tmp, 'clone'),
        'clone',
        '--json',
        server.url('ours.git')
      ]),
      'provenance-ledger clone'
    );
    const cloned = JSON.parse(clone.stdout) as { events: number };
    if (cloned.events !== n) throw new Error(`the clone holds ${cloned.events} events, expected ${n}`);
    log(`scale: clone ${clone.s} s (peak RSS ${clone.rssMb} MiB)`);
    const gitClone = must(
      await timed('git', ['clone', '-q', server.url('git.git'), path.join(tmp, 'gitclone')]),
      'git clone'
    );
    log(`scale: git clone ${gitClone.s} s (peak RSS ${gitClone.rssMb} MiB)`);

    const peak = Math.max(push.rssMb, clone.rssMb, v100.rssMb, cliVerify.rssMb);
    const figures: Record<string, number> = {
      [`push_${k}_s`]: push.s,
      [`git_push_${k}_s`]: gitPush.s,
      [`clone_${k}_s`]: clone.s,
      [`git_clone_${k}_s`]: gitClone.s,
      [`verify_${k}_ms`]: Math.round(v100.ms),
      verify_10k_ms: Math.round(v10.ms),
      [`cli_verify_${k}_ms`]: Math.round(cliVerify.s * 1000),
      [`peak_rss_${k}_mb`]: peak,
      [`push_${k}_rss_mb`]: push.rssMb,
      [`clone_${k}_rss_mb`]: clone.rssMb,
      [`verify_${k}_rss_mb`]: v100.rssMb,
      [`cli_verify_${k}_rss_mb`]: cliVerify.rssMb
    };
    const row = (
      figure: string,
      value: number,
      unit: string,
      anchor: string | undefined,
      anchorValue: number | undefined,
      target: string | undefined,
      pass: boolean | undefined,
      note?: string
    ) => ({
      figure,
      value,
      unit,
      ...(anchor ? { anchor, anchorValue } : {}),
      ...(target ? { target, pass } : {}),
      ...(note ? { note } : {})
    });
    const rows = [
      row(
        `push_${k}_s`,
        push.s,
        's',
        `git_push_${k}_s`,
        gitPush.s,
        '≤ 2 × git push',
        push.s <= 2 * gitPush.s,
        `peak RSS ${push.rssMb} MiB`
      ),
      row(
        `clone_${k}_s`,
        clone.s,
        's',
        `git_clone_${k}_s`,
        gitClone.s,
        '≤ 3 × git clone',
        clone.s <= 3 * gitClone.s,
        `peak RSS ${clone.rssMb} MiB`
      ),
      row(
        `verify_${k}_ms`,
        v100.ms,
        'ms',
        'verify_10k_ms',
        v10.ms,
        '≤ 10 × verify_10k_ms',
        v100.ms <= 10 * v10.ms,
        `ledger.verify(); peak RSS ${v100.rssMb} MiB`
      ),
      row(
        `cli_verify_${k}_ms`,
        cliVerify.s * 1000,
        'ms',
        'verify_10k_ms',
        v10.ms,
        undefined,
        undefined,
        `the whole command (document, journal, every file); provenance-ledger verify; peak RSS ${cliVerify.rssMb} MiB`
      ),
      row(`peak_rss_${k}_mb`, peak, 'MiB', undefined, undefined, '≤ 1,024 MiB', peak <= 1024)
    ];
    return { json: figures, rows };
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const arg = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
  if (arg('verify')) await verifyChild(arg('verify')!, Number(arg('runs') ?? 1));
  else {
    const out = await bench({
      n: arg('n') ? Number(arg('n')) : undefined,
      runs: arg('runs') ? Number(arg('runs')) : undefined
    });
    console.log(JSON.stringify(out, null, 2));
    process.exit(0);
  }
}
