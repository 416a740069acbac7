/**
 * Tamper campaign for the Git journal (beside tests/unit/proofs/tamper.test.ts for the ledger, log,
 * checkpoint and bundle): flip bytes in DIR/journal.git's objects and check that
 *  - verify's journal check (crossCheck, as `provenance-ledger verify` runs it) detects every flip and names
 *    the object whose bytes were changed (or, for a pack's header, trailer or index, the file);
 *  - stock `git fsck --strict` fails on a sample of the same flips;
 *  - a pull of a pack damaged in transit (a remote that serves changed bytes) is refused, naming where, and
 *    nothing local changes; a remote whose stored objects are damaged is refused as well.
 * Every byte of the small ones (trees, short objects), a random sample of the others plus their first and last 64
 * bytes. Prints the detection rate (must be 100%).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { inflateSync } from 'node:zlib';
import path from 'node:path';
import { generationBody, newLedger } from '../helpers/ledger.ts';
import { GitJournal } from '../../../src/lib/adapters/git/journal.ts';
import { nodeBinding } from '../../../src/lib/adapters/git/node.ts';
import { crossCheck } from '../../../src/lib/adapters/git/crosscheck.ts';
import { clone, pull, push } from '../../../src/lib/adapters/git/remote.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { startGitServer, type GitServer } from '../../helpers/git-http-server.ts';
import type { Ledger } from '../../../src/lib/core/ledger.ts';
import { positions, report as reportCampaign, rng, tally } from '../helpers/tamper.ts';

let tmp: string;
let server: GitServer;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'journal-tamper-'));
  server = await startGitServer();
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
/** A ledger of a few events and its journal in a fresh directory. */
async function journalDir(events = 3): Promise<{ ledger: Ledger; dir: string; gitdir: string; journal: GitJournal }> {
  const { ledger } = await newLedger();
  const dir = path.join(tmp, `j${++n}`);
  const journal = await GitJournal.attach(nodeBinding(dir), ledger);
  for (let i = 0; i < events; i++) await ledger.append('generation', generationBody());
  await journal.settled();
  return { ledger, dir, gitdir: path.join(dir, 'journal.git'), journal };
}

const listLoose = (gitdir: string) =>
  readdirSync(path.join(gitdir, 'objects'))
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .flatMap((d) =>
      readdirSync(path.join(gitdir, 'objects', d)).map((f) => ({
        oid: d + f,
        file: path.join(gitdir, 'objects', d, f)
      }))
    );

/** Flips one bit of `file` at `pos` (restored after `check`). */
async function flipped<T>(file: string, pos: number, bit: number, check: () => Promise<T>): Promise<T> {
  const orig = readFileSync(file);
  const bad = Buffer.from(orig);
  bad[pos] ^= 1 << bit;
  writeFileSync(file, bad);
  try {
    return await check();
  } finally {
    writeFileSync(file, orig);
  }
}

describe('tamper campaign: the Git journal', () => {
  it('loose objects: verify detects every flip and names the object; git fsck fails', async () => {
    const { ledger, dir, gitdir } = await journalDir(3);
    const binding = nodeBinding(dir);
    expect(await crossCheck(binding, ledger)).toEqual([]);
    const loose = listLoose(gitdir);
    expect(loose.length).toBe(12); // 4 events: commit, tree, blob each
    const rand = rng(7);
    const t = tally();
    let unchanged = 0;
    const fsckAt = new Set<number>();
    for (const { oid, file } of loose) {
      for (const pos of positions(readFileSync(file).length, 160, rand)) {
        const bit = Math.floor(rand() * 8);
        // The padding bits after the last deflate block are not read by any inflater: such a flip leaves the
        // object exactly as it was (same content, same id), so there is nothing to detect. Counted apart.
        const orig = readFileSync(file);
        const bad = Buffer.from(orig);
        bad[pos] ^= 1 << bit;
        let same: boolean;
        try {
          same = inflateSync(bad).equals(inflateSync(orig));
        } catch {
          same = false;
        }
        if (same) {
          unchanged++;
          continue;
        }
        t.flips++;
        const sampleFsck = rand() < 0.01;
        const problems = await flipped(file, pos, bit, async () => {
          if (sampleFsck) {
            const r = spawnSync('git', ['--git-dir', gitdir, 'fsck', '--strict'], { encoding: 'utf8' });
            expect(r.status, `git fsck passed with ${oid} byte ${pos} flipped`).not.toBe(0);
            expect(`${r.stdout}${r.stderr}`).toMatch(new RegExp(`${oid}|${oid.slice(0, 2)}/${oid.slice(2)}`));
            fsckAt.add(pos);
          }
          return crossCheck(binding, ledger);
        });
        if (problems.length === 0) {
          t.misses.push(`${oid} byte ${pos}`);
          continue;
        }
        t.detected++;
        if (problems.some((p) => p.code === 'JOURNAL_CORRUPT' && p.location === `journal object ${oid}`)) t.located++;
      }
    }
    reportCampaign('journal loose objects', t);
    console.log(
      `tamper journal loose objects: ${unchanged} more flips hit deflate padding bits and left the object unchanged`
    );
    expect(unchanged).toBeLessThan(t.flips / 100);
    expect(t.misses).toEqual([]);
    expect(t.located).toBe(t.flips);
    expect(fsckAt.size).toBeGreaterThan(0);
  }, 240_000);

  it('the pack and its index: verify detects every flip and names the object or the file; git fsck fails', async () => {
    const { ledger, dir, gitdir, journal } = await journalDir(3);
    await journal.pack();
    const binding = nodeBinding(dir);
    expect(await crossCheck(binding, ledger)).toEqual([]);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const packFile = path.join(
      packDir,
      readdirSync(packDir).find((f) => f.endsWith('.pack'))!
    );
    const idxFile = packFile.replace(/\.pack$/, '.idx');
    const name = path.basename(packFile, '.pack');
    const entries = execFileSync('git', ['--git-dir', gitdir, 'verify-pack', '-v', idxFile], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(/\s+/))
      .filter((f) => /^[0-9a-f]{40}$/.test(f[0]) && f.length >= 5)
      .map((f) => ({ oid: f[0], size: Number(f[3]), offset: Number(f[4]) }));
    expect(entries).toHaveLength(12);
    const owner = (pos: number) => entries.find((e) => e.offset <= pos && pos < e.offset + e.size)?.oid;
    const rand = rng(11);
    for (const [label, file] of [
      ['pack', packFile],
      ['index', idxFile]
    ] as const) {
      const t = tally();
      for (const pos of positions(readFileSync(file).length, label === 'pack' ? 700 : 400, rand)) {
        t.flips++;
        const sampleFsck = rand() < 0.03;
        const problems = await flipped(file, pos, Math.floor(rand() * 8), async () => {
          if (sampleFsck) {
            const r = spawnSync('git', ['--git-dir', gitdir, 'fsck', '--strict'], { encoding: 'utf8' });
            expect(r.status, `git fsck passed with ${label} byte ${pos} flipped`).not.toBe(0);
          }
          return crossCheck(binding, ledger);
        });
        if (problems.length === 0) {
          t.misses.push(`${label} byte ${pos}`);
          continue;
        }
        t.detected++;
        const locations = problems.map((p) => p.location ?? '');
        // A byte inside an object's entry names that object; the pack's header and trailer, and the index
        // (whose every byte its checksum covers), name the file when no object is hit.
        const expected =
          label === 'pack' && owner(pos)
            ? [`journal object ${owner(pos)}`]
            : [
                `journal file objects/pack/${name}.${label === 'pack' ? 'pack' : 'idx'}`,
                ...entries.map((e) => `journal object ${e.oid}`)
              ];
        if (locations.some((l) => expected.includes(l))) t.located++;
        else t.misses.push(`${label} byte ${pos}: located at ${locations.join(', ')}`);
      }
      reportCampaign(`journal ${label}`, t);
      expect(t.misses).toEqual([]);
      expect(t.detected).toBe(t.flips);
      expect(t.located).toBe(t.flips);
    }
  }, 240_000);

  it('a pull of a pack changed in transit is refused, naming where, and nothing local changes', async () => {
    // a pushes 4 events; b clones; a appends 1 more and pushes; b pulls through a proxy that flips one byte
    // of the pack in the upload-pack answer.
    server.createRepo('tamper.git');
    const url = server.url('tamper.git');
    const a = await journalDir(3);
    await push(a.journal, url);
    const bDir = path.join(tmp, 'b-pull');
    const b = await clone(nodeBinding(bDir), url, new MemoryStorage());
    const twin = await clone(nodeBinding(path.join(tmp, 'b-twin')), url, new MemoryStorage()); // b's state, to learn the pack
    await a.ledger.append('generation', generationBody());
    await a.journal.settled();
    await push(a.journal, url);

    let flip = -1;
    let packLength = 0;
    const target = new URL(url);
    const proxy = http.createServer((req, res) => {
      const up = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          const parts: Buffer[] = [];
          r.on('data', (c: Buffer) => parts.push(c));
          r.on('end', () => {
            let body = Buffer.concat(parts);
            const at = body.indexOf('PACK');
            if (req.url?.endsWith('/git-upload-pack') && at >= 0) {
              packLength = body.length - at;
              if (flip >= 0) {
                body = Buffer.from(body);
                body[at + flip] ^= 0x10;
              }
            }
            const headers = { ...r.headers };
            delete headers['content-length'];
            res.writeHead(r.statusCode ?? 500, headers);
            res.end(body);
          });
        }
      );
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxied = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${target.pathname}`;
    try {
      const snapshot = () =>
        JSON.stringify({
          size: b.ledger.size,
          heads: b.ledger.heads(),
          files: readdirSync(path.join(bDir, 'journal.git'), { recursive: true }).map(String).sort()
        });
      const before = snapshot();
      // The twin (same commits, same haves) pulls untouched first: the pack b will be sent has this length.
      expect((await pull(twin, proxied)).received).toBe(1);
      expect(packLength).toBeGreaterThan(32);
      const t = tally();
      for (const pos of positions(packLength, 200, rng(3))) {
        flip = pos;
        t.flips++;
        const err = await pull(b, proxied).then(
          () => undefined,
          (e) => e as Error & { code?: string }
        );
        if (!err) {
          t.misses.push(`pack byte ${pos}`);
          continue;
        }
        t.detected++;
        expect(err.code).toMatch(/COMMIT_REFUSED/);
        if (/byte \d+|commit [0-9a-f]{40}|object [0-9a-f]{40}|checksum/.test(err.message)) t.located++;
        else t.misses.push(`pack byte ${pos}: not located: ${err.message}`);
        expect(snapshot()).toBe(before);
      }
      reportCampaign('journal pull (pack changed in transit)', t);
      expect(t.misses).toEqual([]);
      expect(t.located).toBe(t.flips);
      flip = -1;
      expect((await pull(b, proxied)).received).toBe(1); // the untouched pack is accepted
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  }, 240_000);

  it('a remote whose stored objects are damaged: the pull is refused and nothing local changes', async () => {
    server.createRepo('damaged.git');
    const url = server.url('damaged.git');
    const a = await journalDir(2);
    await push(a.journal, url);
    const bDir = path.join(tmp, 'b-damaged');
    const b = await clone(nodeBinding(bDir), url, new MemoryStorage());
    await a.ledger.append('generation', generationBody());
    await a.journal.settled();
    await push(a.journal, url);
    const bare = path.join(server.root, 'damaged.git');
    const saved = path.join(tmp, 'damaged-copy.git');
    cpSync(bare, saved, { recursive: true });
    const head = execFileSync('git', ['--git-dir', bare, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
    // The new commit's object on the server, wherever it is stored: damage its bytes in the pack.
    const packDir = path.join(bare, 'objects', 'pack');
    const packs = readdirSync(packDir).filter((f) => f.endsWith('.idx'));
    let damaged = false;
    for (const idx of packs) {
      const lines = execFileSync('git', ['--git-dir', bare, 'verify-pack', '-v', path.join(packDir, idx)], {
        encoding: 'utf8'
      }).split('\n');
      const line = lines.find((l) => l.startsWith(head));
      if (!line) continue;
      const f = line.split(/\s+/);
      const file = path.join(packDir, idx.replace(/\.idx$/, '.pack'));
      const bytes = readFileSync(file);
      bytes[Number(f[4]) + Math.floor(Number(f[3]) / 2)] ^= 0x08;
      writeFileSync(file, bytes);
      damaged = true;
    }
    if (!damaged) {
      const loose = path.join(bare, 'objects', head.slice(0, 2), head.slice(2));
      const bytes = readFileSync(loose);
      bytes[Math.floor(bytes.length / 2)] ^= 0x08;
      writeFileSync(loose, bytes);
    }
    const before = JSON.stringify({ size: b.ledger.size, heads: b.ledger.heads() });
    const err = await pull(b, url).then(
      () => undefined,
      (e) => e as Error & { code?: string }
    );
    expect(err, 'a pull from a damaged remote must fail').toBeDefined();
    expect(err!.code).toMatch(/COMMIT_REFUSED|REMOTE_UNREACHABLE/);
    expect(JSON.stringify({ size: b.ledger.size, heads: b.ledger.heads() })).toBe(before);
    rmSync(saved, { recursive: true, force: true });
  }, 120_000);
});
