/**
 * Crash safety of FsStorage: a child process saves self-checking values in a loop and is SIGKILLed at random
 * moments. After every kill, each key that exists must load a complete value whose first 32 bytes are the
 * SHA-256 of the rest: the old value or the new one, never a torn one.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { CRASH_KEYS, VALUE_SIZE } from './fixtures/fs-crash-writer.ts';

const WRITER = fileURLToPath(new URL('./fixtures/fs-crash-writer.ts', import.meta.url));
const KILLS = 30;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fs-crash-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Starts the writer, lets it save for a random while after it is ready, SIGKILLs it; resolves saves seen. */
function runAndKill(dir: string, maxDelayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (!timer && out.includes('ready\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * maxDelayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(out.split('ready\n')[1]?.length ?? 0);
      else reject(new Error(`writer exited on its own (code ${code}, signal ${signal}): ${err}`));
    });
  });
}

function checkValue(key: string[], value: Uint8Array | undefined): void {
  expect(value, `value for ${key.join('/')}`).toBeDefined();
  expect(value!.length, `length of ${key.join('/')}`).toBe(VALUE_SIZE);
  const digest = createHash('sha256').update(value!.subarray(32)).digest();
  expect(Buffer.from(value!.subarray(0, 32)).equals(digest), `checksum of ${key.join('/')}`).toBe(true);
}

it(`leaves every key whole after ${KILLS} SIGKILLs at random moments`, { timeout: 120_000 }, async () => {
  const dir = path.join(root, 'ledger');
  let saves = 0;
  let tempFilesSeen = 0;
  for (let i = 0; i < KILLS; i++) {
    // Mostly very early kills (mid-first-saves), some later ones.
    saves += await runAndKill(dir, i % 3 === 0 ? 150 : 30);
    const storage = await FsStorage.open(dir);
    const keys = await storage.listKeys([]);
    for (const key of keys) {
      expect(CRASH_KEYS.map((k) => k.join('/'))).toContain(key.join('/'));
      checkValue(key, await storage.load(key));
    }
    for (const chunk of await storage.loadRange([])) checkValue(chunk.key, chunk.data);
    tempFilesSeen += (await listAll(dir)).filter((f) => f.endsWith('.tmp')).length;
  }
  expect(saves).toBeGreaterThan(0);
  // Temp files a kill left behind are ignored above; open() removes them once they are stale.
  await FsStorage.open(dir, { staleTempMs: 0 });
  expect((await listAll(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  console.info(`fs-crash: ${saves} saves across ${KILLS} kills; ${tempFilesSeen} temp files seen after kills`);
});

async function listAll(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}
