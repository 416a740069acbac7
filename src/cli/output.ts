/**
 * All terminal output of the CLI goes through here. Human text by default; with --json, exactly one JSON
 * document on stdout per command. Errors go to stderr with their stable code (as JSON with --json), and the
 * exit code says what kind of failure it was.
 */
import path from 'node:path';
import { isLedgerError } from '../lib/core/errors.ts';
import { escapeBidi } from '../lib/core/bidi.ts';

/** Exit codes: scripts match on them. */
export const Exit = {
  OK: 0,
  /** verify found problems. */
  PROBLEMS: 1,
  /** Usage or input error: unknown flag, missing file, bad JSON, wrong passphrase, invalid event... */
  INPUT: 2,
  /** Anything unexpected (a bug, a disk failure). */
  INTERNAL: 3
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** An error the CLI itself raises about its command line (codes beyond the core's). */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, exitCode: ExitCode = Exit.INPUT) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;

/**
 * Text for a terminal: control characters other than newline and tab (an escape sequence, a carriage return that
 * would overwrite the line) become U+FFFD, and bidirectional controls (a right-to-left override that would
 * reorder the line) are shown as `<U+202E>` (src/lib/core/bidi.ts). Human output carries text from files,
 * bundles, peers and remotes; none of it may drive the terminal. (JSON output: see jsonSafe.)
 */
export function terminalSafe(s: string): string {
  return escapeBidi(s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd'));
}

/**
 * A JSON document for the terminal: JSON.stringify escapes control characters but not bidirectional controls;
 * they are written as `\u202e` escapes, the same JSON value.
 */
export function jsonSafe(json: string): string {
  return json.replace(
    /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  );
}

export class Output {
  json = false;
  readonly #streams: Streams;
  #notes: string[] = [];
  #progressShown = false;
  #lastDraw = 0;

  constructor(streams: Streams = { stdout: process.stdout, stderr: process.stderr }) {
    this.#streams = streams;
  }

  /** Prints a command's result: `human` writes text lines; with --json, `data` (plus any notes) is printed. */
  result(data: Record<string, unknown>, human: (say: (line?: string) => void) => void): void {
    this.#clearProgress();
    if (this.json) {
      const doc = this.#notes.length ? { ...data, notes: this.#notes } : data;
      this.#streams.stdout.write(jsonSafe(JSON.stringify(doc, null, 2)) + '\n');
    } else {
      // One write for the whole result: a log of 10k events is one system call, not 10k.
      const lines: string[] = [];
      human((line = '') => void lines.push(terminalSafe(line)));
      for (const n of this.#notes) lines.push(`note: ${terminalSafe(n)}`);
      if (lines.length) this.#streams.stdout.write(lines.join('\n') + '\n');
    }
    this.#notes = [];
  }

  /** Something the user should know about what the command decided (e.g. which policy snapshots it used). */
  note(message: string): void {
    this.#notes.push(message);
  }

  /** A warning that does not stop the command: always on stderr. */
  warn(message: string): void {
    this.#clearProgress();
    this.#streams.stderr.write(
      this.json ? jsonSafe(JSON.stringify({ warning: message })) + '\n' : `warning: ${terminalSafe(message)}\n`
    );
  }

  /** Reports a failure on stderr and returns the exit code to use. */
  error(err: unknown): ExitCode {
    this.#clearProgress();
    let code: string;
    let message: string;
    let exitCode: ExitCode;
    let detail: unknown;
    if (err instanceof CliError) {
      ({ code, message, exitCode } = err);
    } else if (isLedgerError(err) || isCodedError(err)) {
      code = err.code;
      message = err.message;
      detail = err.detail;
      exitCode = Exit.INPUT;
    } else {
      code = 'INTERNAL';
      message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      exitCode = Exit.INTERNAL;
    }
    if (this.json) {
      this.#streams.stderr.write(
        jsonSafe(JSON.stringify({ error: { code, message, ...(detail === undefined ? {} : { detail }) } })) + '\n'
      );
    } else {
      this.#streams.stderr.write(`error [${code}]: ${terminalSafe(message)}\n`);
    }
    return exitCode;
  }

  /** A progress bar on stderr while hashing a large file, only when stderr is a terminal. */
  progress = (file: string, done: number, total: number): void => {
    const err = this.#streams.stderr;
    if (!err.isTTY || total < PROGRESS_MIN_BYTES) return;
    const now = Date.now();
    if (done < total && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = Math.max(10, Math.min(40, (err.columns ?? 80) - 50));
    const frac = total ? Math.min(1, done / total) : 1;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const name = terminalSafe(path.basename(file)).slice(0, 24);
    err.write(`\r${name} [${bar}] ${String(Math.floor(frac * 100)).padStart(3)}% ${mib(done)}/${mib(total)} MiB`);
    this.#progressShown = true;
    if (done >= total) this.#clearProgress();
  };

  #clearProgress(): void {
    if (this.#progressShown) {
      this.#streams.stderr.write('\r\x1b[K');
      this.#progressShown = false;
    }
  }
}

const mib = (n: number) => (n / 1048576).toFixed(0);

/** The core's other coded errors (proofs, Merkle, time-stamps): a refusal with a stable code, never a crash. */
function isCodedError(e: unknown): e is Error & { code: string; detail?: unknown } {
  return (
    e instanceof Error &&
    ['ProofError', 'MerkleError', 'TimestampError'].includes(e.name) &&
    typeof (e as { code?: unknown }).code === 'string'
  );
}
