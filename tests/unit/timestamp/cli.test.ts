/**
 * Time-stamps through the real CLI (bin/provenance-ledger.js) against the real test TSA (openssl ts -reply):
 * checkpoint --tsa, tsa add/list/remove, a failing TSA (exit 1, named, queued, nothing lost) and its recovery,
 * a damaged tokens file (reported, not a crash), sync and prove with configured TSAs, and no TSA: no request.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type Relay } from '../../../src/relay/server.ts';
import { run, tempDir } from '../cli/helpers.ts';
import { startTestTsa } from '../../helpers/tsa.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
let tsa: Awaited<ReturnType<typeof startTestTsa>>;
let relay: Relay;
let L: string;
let events = 0;
const pl = (...args: string[]) => run([...args, '--ledger', L]);
const name16 = (n: number) => String(n).padStart(16, '0');
const tokensFile = (n: number) => path.join(L, 'log', 'timestamps', `${name16(n)}+`);
const pendingFile = (n: number) => path.join(L, 'log', 'timestamps-pending', `${name16(n)}+`);
/** A new event, so that the next checkpoint has a new size. */
const record = async () =>
  expect((await pl('record', 'checklist', '--project', `P${++events}`, '--classification', 'public')).code).toBe(0);
/** The signed text of a checkpoint note: its lines up to the blank line. */
const textOf = (note: string) => note.slice(0, note.indexOf('\n\n') + 1);

beforeAll(async () => {
  tmp = await tempDir('pl-tsa-');
  tsa = await startTestTsa();
  relay = await startRelay({ port: 0 });
  L = path.join(tmp.dir, 'ledger');
  expect((await run(['init', '--ledger', L, '--name', 'Ada'])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await tsa?.close();
  await relay?.close();
  await tmp?.cleanup();
});

describe('time-stamps through the CLI', () => {
  it('without a TSA configured or given, checkpoint contacts nothing', async () => {
    const before = tsa.requests;
    const r = await pl('checkpoint', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().timestamps).toBeUndefined();
    expect(tsa.requests).toBe(before);
  });

  it('checkpoint --tsa keeps a token whose imprint is SHA-256 of the checkpoint text (openssl ts agrees)', async () => {
    await record();
    const r = await pl('checkpoint', '--tsa', tsa.url, '--json');
    expect(r.code, r.stderr).toBe(0);
    const { size, checkpoint, timestamps } = r.json();
    expect(timestamps).toMatchObject([{ tsa: new URL(tsa.url).href, size, ok: true, tsaName: tsa.tsaSubject }]);
    const kept = JSON.parse(await readFile(tokensFile(size), 'utf8'));
    expect(kept.tokens).toHaveLength(1);
    const der = path.join(tmp.dir, 'token.der');
    await writeFile(der, Buffer.from(kept.tokens[0].token, 'base64'));
    const text = execFileSync('openssl', ['ts', '-reply', '-in', der, '-token_in', '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore']
    });
    // "Message data:" then lines "    0000 - 73 05 e5 bb 2a da a0 8f-ff c7 c0 f5 ac 6c 3f 5c   s...*...":
    const dump = text.slice(text.indexOf('Message data:')).split('\n').slice(1, 3);
    const hex = dump
      .map((l) => /^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){15}[0-9a-f]{2})/.exec(l)![1].replace(/[ -]/g, ''))
      .join('');
    expect(hex).toBe(createHash('sha256').update(textOf(checkpoint)).digest('hex'));
    // Again at the same size: held, not asked again; the human output names the TSA and the time.
    const before = tsa.requests;
    const h = await pl('checkpoint', '--tsa', tsa.url);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain(`already time-stamped by ${tsa.tsaSubject}: ${timestamps[0].genTime}`);
    expect(tsa.requests).toBe(before);
  });

  it('tsa add configures a TSA that checkpoint then uses; bad URLs are refused (exit 2, nothing written)', async () => {
    for (const bad of ['ftp://tsa.example/', 'tsa.example', 'https://u:p@tsa.example/']) {
      const r = await pl('tsa', 'add', bad, '--json');
      expect(r.code).toBe(2);
      expect(r.errorJson().error.code).toBe('BAD_INPUT');
    }
    expect((await pl('tsa', 'list', '--json')).json().tsas).toEqual([]);
    expect((await pl('tsa', 'add', tsa.url)).code).toBe(0);
    expect((await pl('tsa', 'list', '--json')).json().tsas).toEqual([new URL(tsa.url).href]);
    await record();
    const before = tsa.requests;
    const r = await pl('checkpoint', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().timestamps).toMatchObject([{ size: r.json().size, ok: true }]);
    expect(tsa.requests).toBe(before + 1);
    const list = (await pl('tsa', 'list', '--json')).json();
    expect(list.tokens.map((t: { size: number }) => t.size)).toContain(r.json().size);
    expect(list.tokens.every((t: { genTime?: string }) => t.genTime)).toBe(true);
    expect(list.problems).toEqual([]);
  });

  it('a failing TSA: exit 1 naming it, the checkpoint kept, the request queued; the next checkpoint obtains it', async () => {
    await record();
    tsa.setFailing('http-500');
    const r = await pl('checkpoint');
    tsa.setFailing(false);
    expect(r.code, r.stderr).toBe(1);
    const size = Number(/\((\d+) entries\)/.exec(r.stdout)![1]);
    expect(r.stdout).toMatch(
      new RegExp(
        `time-stamp from ${new URL(tsa.url).href.replace(/[./]/g, '\\$&')} failed: HTTP \\d+.* from ${new URL(tsa.url).host}; queued, it is requested again at the next checkpoint, sync or prove`
      )
    );
    await readFile(path.join(L, 'log', 'checkpoints', `${name16(size)}+`)); // the checkpoint is kept
    expect(JSON.parse(await readFile(pendingFile(size), 'utf8'))).toMatchObject({
      tsas: [new URL(tsa.url).href],
      attempts: 1,
      lastError: expect.stringMatching(/^TSA_UNREACHABLE: HTTP/)
    });
    const list = await pl('tsa', 'list');
    expect(list.stdout).toMatch(new RegExp(`checkpoint ${size}: .*1 attempt, last .*: TSA_UNREACHABLE: HTTP`));

    await record();
    const again = await pl('checkpoint', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().timestamps.map((t: { size: number; ok: boolean }) => [t.size, t.ok])).toEqual([
      [size, true],
      [again.json().size, true]
    ]);
    expect((await pl('tsa', 'list', '--json')).json().pending).toEqual([]);
  });

  it('a damaged tokens file is reported with its key and code (exit 1), not a crash, and left as it is', async () => {
    const r0 = await pl('checkpoint', '--json');
    const size = r0.json().size;
    await writeFile(tokensFile(size), '{"tokens": "oops"');
    const r = await pl('checkpoint', '--json');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/INTERNAL/);
    expect(r.json().timestamps).toMatchObject([
      {
        size,
        ok: false,
        code: 'STORAGE_CORRUPT',
        error: expect.stringContaining(`log/timestamps/${name16(size)} is damaged`)
      }
    ]);
    expect(await readFile(tokensFile(size), 'utf8')).toBe('{"tokens": "oops"');
    const list = await pl('tsa', 'list');
    expect(list.code).toBe(1);
    expect(list.stdout).toContain(`problem [STORAGE_CORRUPT] log/timestamps/${name16(size)} is damaged`);
    // Repaired by hand (the damaged file removed): the queued request is obtained.
    await rm(tokensFile(size));
    const fixed = await pl('checkpoint', '--json');
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.json().timestamps).toMatchObject([{ size, ok: true }]);
  });

  it('sync and prove time-stamp the newest checkpoint with the configured TSAs; a failure is a line, not an exit code', async () => {
    await record();
    tsa.setFailing('http-500');
    const s = await pl('sync', '--relay', relay.url, '--once', '--wait', '1');
    tsa.setFailing(false);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/time-stamp from .* failed: .*; queued/);
    const s2 = await pl('sync', '--relay', relay.url, '--once', '--wait', '1');
    expect(s2.code, s2.stderr).toBe(0);
    expect(s2.stdout).toContain(`time-stamped by ${tsa.tsaSubject}`);

    const file = path.join(tmp.dir, 'robot.glb');
    await writeFile(file, 'glTF robot');
    expect(
      (
        await pl(
          'record',
          'generation',
          '--platform',
          'Tripo',
          '--prompt',
          'robot',
          '--output',
          file,
          '--project',
          'P',
          '--classification',
          'public'
        )
      ).code
    ).toBe(0);
    tsa.setFailing('http-500');
    const p = await pl('prove', file, '--unwitnessed', '--out', path.join(tmp.dir, 'b1.json'));
    tsa.setFailing(false);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/warning: time-stamp from .* failed: .*; queued/);
    const p2 = await pl('prove', file, '--unwitnessed', '--out', path.join(tmp.dir, 'b2.json'));
    expect(p2.code, p2.stderr).toBe(0);
    expect(p2.stdout).toContain(`note: time-stamped by ${tsa.tsaSubject}`);
  });

  it('tsa remove drops the TSA and its pending requests, keeps its tokens; an unknown TSA is exit 2', async () => {
    expect((await pl('tsa', 'remove', 'https://unknown.example/')).code).toBe(2);
    const held = (await pl('tsa', 'list', '--json')).json().tokens.length;
    const r = await pl('tsa', 'remove', tsa.url, '--json');
    expect(r.code, r.stderr).toBe(0);
    const list = (await pl('tsa', 'list', '--json')).json();
    expect(list).toMatchObject({ tsas: [], pending: [] });
    expect(list.tokens).toHaveLength(held);
    await record();
    const before = tsa.requests;
    expect((await pl('checkpoint')).code).toBe(0);
    expect(tsa.requests).toBe(before);
  });
});
