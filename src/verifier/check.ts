/**
 * Checking an evidence bundle with nothing but the bytes given (ledger-schema/README.md sections 16-17): the core's
 * verifyBundle over the bundle, the files (hashed here, never uploaded) and, optionally, trusted time-stamp roots;
 * the plain-words statements from the core's describeFacts. Shared by the web app's Verify page (in a small worker
 * of its own, worker.ts, so no ledger is needed) and the offline verifier page (main.ts, in the page).
 *
 * The verdict keeps two questions apart: is the bundle itself valid (its statements stand), and is each file
 * given one the bundle names. A valid bundle with a file it does not name is still valid: the core reports the
 * file as FILE_NOT_IN_BUNDLE (location: the file's name), and that is a finding about the file, not the bundle.
 */
import { sha256Stream } from '#lib/core/hash.ts';
import { MAX_BUNDLE_BYTES } from '#lib/core/proofs/bundle.ts';
import { BundleCode, verifyBundle, type BundleFailure, type VerifyOptions } from '#lib/core/proofs/bundle-verify.ts';
import { describeFacts } from '#lib/core/proofs/report.ts';
import { parsePemCertificates } from '#lib/core/timestamp/pem.ts';
import { readSlices } from '#lib/engine/files.ts';

export interface CheckInput {
  bundle: Blob & { name?: string };
  /** The files the bundle is about, hashed here. */
  files?: ReadonlyArray<Blob & { name: string }>;
  /** PEM files of trusted time-stamp authority roots (optional). */
  roots?: ReadonlyArray<Blob & { name?: string }>;
  /** The ledger id the reader knows by other means (optional): a bundle about another ledger fails. */
  expectLedger?: string;
}

export interface FileCheck {
  name: string;
  size: number;
  sha256: string;
  /** An included event names a file with this hash. */
  named: boolean;
  /** The core's finding on this file (FILE_NOT_IN_BUNDLE), when it has one. */
  failure?: BundleFailure;
}

export interface BundleCheck {
  bundleName: string;
  /** The bundle itself verified: no failure other than a file it does not name. Its statements stand. */
  bundleOk: boolean;
  /** The bundle is valid and names every file given. */
  ok: boolean;
  /** What is wrong with the bundle itself (empty when bundleOk). */
  failures: BundleFailure[];
  /** Files given that the bundle does not name (code FILE_NOT_IN_BUNDLE, location the file's name). */
  fileFailures: BundleFailure[];
  /** Every failure code, bundle and files, in the order found. */
  codes: string[];
  /** What the bundle proves (core describeFacts), one line each; empty unless bundleOk. */
  statements: string[];
  /** The core's notices (things a reader should know that do not make the bundle invalid). */
  notices: string[];
  files: FileCheck[];
  /** How many trusted time-stamp root certificates were given. */
  roots: number;
}

export interface CheckProgress {
  /** What is being done, in words ("Hashing model.glb…"). */
  label: string;
  done?: number;
  total?: number;
}

export class RootsError extends Error {}

/** Reads the roots: each file PEM text (one or more certificates), or a single DER certificate. */
export async function readRoots(roots: ReadonlyArray<Blob & { name?: string }>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const r of roots) {
    const name = r.name ?? 'the roots file';
    if (r.size > 4 * 1024 * 1024) throw new RootsError(`${name} is too large for a list of root certificates.`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    if (/-----BEGIN /.test(text)) {
      let certs: Uint8Array[];
      try {
        certs = parsePemCertificates(text);
      } catch (e) {
        throw new RootsError(`${name}: ${(e as Error)?.message ?? e}`);
      }
      if (certs.length === 0) throw new RootsError(`${name} holds no certificate.`);
      out.push(...certs);
    } else if (bytes[0] === 0x30) {
      out.push(bytes); // DER
    } else {
      throw new RootsError(`${name} is neither PEM ("-----BEGIN CERTIFICATE-----") nor a DER certificate.`);
    }
  }
  return out;
}

/** Hashes one file as a stream (memory stays flat), reporting bytes done. */
async function hashOne(
  file: Blob & { name: string },
  onBytes?: (n: number) => void
): Promise<{ name: string; size: number; sha256: string }> {
  const { sha256, size } = await sha256Stream(readSlices(file), onBytes);
  return { name: file.name, size, sha256 };
}

/**
 * Verifies a bundle and the files given beside it. Never throws for a bad bundle or file (those are failures in
 * the answer); throws RootsError when the trusted roots cannot be read, and a read error when a file cannot.
 */
export async function checkBundle(input: CheckInput, progress?: (p: CheckProgress) => void): Promise<BundleCheck> {
  const files = input.files ?? [];
  const bundleName = input.bundle.name ?? 'the bundle';
  const tsaRoots = input.roots?.length ? await readRoots(input.roots) : undefined;

  // Over the limit: a slice one byte too long, so the core's parser names it (as the CLI does).
  progress?.({ label: `Reading ${bundleName}…` });
  const bytes = new Uint8Array(await input.bundle.slice(0, MAX_BUNDLE_BYTES + 1).arrayBuffer());

  const total = files.reduce((n, f) => n + f.size, 0);
  let before = 0;
  const hashed: Array<{ name: string; size: number; sha256: string }> = [];
  for (const f of files) {
    const label = `Hashing ${f.name}…`;
    progress?.({ label, done: before, total });
    hashed.push(await hashOne(f, (n) => progress?.({ label, done: before + n, total })));
    before += f.size;
  }

  progress?.({ label: `Checking ${bundleName}…` });
  const expectLedger = input.expectLedger?.trim();
  const opts: VerifyOptions = { ...(tsaRoots ? { tsaRoots } : {}), ...(expectLedger ? { expectLedger } : {}) };
  const res = await verifyBundle(
    bytes,
    hashed.map((f) => ({ name: f.name, sha256: f.sha256 })),
    opts
  );
  // A file the bundle does not name is a finding about the file (the core's bundleOk stays true): shown apart.
  const isFileFailure = (x: BundleFailure) =>
    x.code === BundleCode.FILE_MISMATCH && hashed.some((f) => f.name === x.location);
  const fileFailures = res.failures.filter(isFileFailure);
  const failures = res.failures.filter((x) => !isFileFailure(x));
  const bundleOk = res.bundleOk && failures.length === 0 && !!res.facts;
  const notices = res.notices;
  const statements = bundleOk && res.facts ? describeFacts(res.facts) : [];
  const namedHashes = new Set((res.facts?.files ?? []).map((x) => x.sha256));

  return {
    bundleName,
    bundleOk,
    ok: bundleOk && fileFailures.length === 0,
    failures,
    fileFailures,
    codes: [...failures, ...fileFailures].map((x) => x.code),
    statements,
    notices,
    files: hashed.map((f) => {
      const failure = fileFailures.find((x) => x.location === f.name);
      return { ...f, named: !failure && namedHashes.has(f.sha256), ...(failure ? { failure } : {}) };
    }),
    roots: tsaRoots?.length ?? 0
  };
}
