/**
 * The Node binding of the Git journal: Node's fs, its HTTP client (node-http.ts), and credentials from
 * the environment (PROVENANCE_LEDGER_GIT_USERNAME / _PASSWORD, or _TOKEN), else from a prompt the caller
 * supplies. Credentials live in memory for one command and are never written anywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { nodeHttp } from './node-http.ts';
import type { Credentials, GitBinding } from './binding.ts';

export const GIT_USERNAME_ENV = 'PROVENANCE_LEDGER_GIT_USERNAME';
export const GIT_PASSWORD_ENV = 'PROVENANCE_LEDGER_GIT_PASSWORD';
export const GIT_TOKEN_ENV = 'PROVENANCE_LEDGER_GIT_TOKEN';

/** The journal of the ledger in `dir`: the bare repository DIR/journal.git. */
export const journalDir = (dir: string): string => path.join(dir, 'journal.git');

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const token = env[GIT_TOKEN_ENV];
  if (token) return { username: env[GIT_USERNAME_ENV] || 'x-access-token', password: token };
  const username = env[GIT_USERNAME_ENV];
  const password = env[GIT_PASSWORD_ENV];
  if (username !== undefined && password !== undefined) return { username, password };
  return undefined;
}

export function nodeBinding(dir: string, prompt?: (url: string) => Promise<Credentials | undefined>): GitBinding {
  return {
    fs,
    gitdir: journalDir(dir),
    http: nodeHttp,
    zlib: {
      deflate: (b) => zlib.deflateSync(b),
      inflate: (b) => zlib.inflateSync(b),
      inflatePrefix: (b, max) => {
        // Output chunks sized to the object: with zlib's default 16 KiB chunks every small object kept a whole
        // chunk alive (a clone of 20k events held 1 GB of them).
        const r = zlib.inflateSync(b, {
          info: true,
          maxOutputLength: Math.max(1, max),
          chunkSize: Math.max(64, Math.min(max, 1 << 20))
        }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
        const out = r.buffer;
        const data =
          out.buffer.byteLength > 2 * out.length + 8192
            ? new Uint8Array(out)
            : new Uint8Array(out.buffer, out.byteOffset, out.length);
        return { data, consumed: r.engine.bytesWritten };
      }
    },
    credentials: async (url) => credentialsFromEnv() ?? (prompt ? prompt(url) : undefined)
  };
}
