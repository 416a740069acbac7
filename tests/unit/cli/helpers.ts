/**
 * Runs the real CLI (bin/provenance-ledger.js) as a child process under the Node that runs the tests
 * (process.execPath: Node 22 under `npm run test:unit`), in temp directories, with a clean environment.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(ROOT, 'bin/provenance-ledger.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (throws, with the output, if it is not). */
  json: () => any;
  /** stderr's JSON error document (with --json). */
  errorJson: () => { error: { code: string; message: string } };
}

/** Environment without any PROVENANCE_LEDGER_* variable of the developer's own shell. */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PROVENANCE_LEDGER_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function run(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdin = opts.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: cleanEnv(opts.env ?? {}),
      stdio: [stdin, 'pipe', 'pipe']
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const parse = (s: string, what: string) => {
        try {
          return JSON.parse(s);
        } catch {
          throw new Error(`${what} is not JSON (exit ${code}):\n${s}\nstderr:\n${stderr}`);
        }
      };
      resolve({ code, stdout, stderr, json: () => parse(stdout, 'stdout'), errorJson: () => parse(stderr, 'stderr') });
    });
  });
}

/** A CLI bound to one ledger directory (through --ledger). */
export function cli(dir: string, cwd: string, env: Record<string, string | undefined> = {}) {
  return (...args: string[]) => run([...args, '--ledger', dir], { cwd, env });
}

export async function tempDir(prefix = 'pl-cli-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** SHA-256 of a whole directory tree: every entry's relative path, kind, mode and content (or link target). */
export async function hashTree(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string) => {
    const abs = path.join(root, rel);
    const st = await lstat(abs);
    h.update(`${rel}\0${st.mode.toString(8)}\0`);
    if (st.isDirectory()) {
      for (const name of (await readdir(abs)).sort()) await walk(path.join(rel, name));
    } else if (st.isSymbolicLink()) {
      h.update(`link\0${await readlink(abs)}\0`);
    } else {
      h.update(await readFile(abs));
    }
    h.update('\0');
  };
  await walk('.');
  return h.digest('hex');
}

export const sha256File = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
