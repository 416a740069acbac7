/**
 * Proofs a third party can check: checkpoint, witness, prove, verify-bundle (ledger-schema/README.md 13-17).
 *
 *   checkpoint [--out REQUEST] [--from SIZE...] [--cosigned NOTE]   sign this device's log head; export a witness
 *                                                                   request; merge a teammate's cosignature
 *   witness --log OTHERDIR | --request FILE --out FILE              check and cosign a teammate's checkpoint
 *   prove FILE|ID --out BUNDLE [--reveal-prompt] [--unwitnessed]    write an evidence bundle
 *   verify-bundle BUNDLE [--file FILE...]                           check it offline: exit 0 valid, 1 invalid
 */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fromUtf8, utf8 } from '../../lib/core/bytes.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import { PromptVault } from '../../lib/core/vault.ts';
import type { Opening } from '../../lib/core/commitment.ts';
import { identitySigner } from '../../lib/adapters/node/identity.ts';
import { hashFile, nativePath } from '../../lib/adapters/node/files.ts';
import { parseCheckpoint } from '../../lib/core/merkle/checkpoint.ts';
import { parseNote } from '../../lib/core/merkle/note.ts';
import { isMerkleError } from '../../lib/core/merkle/errors.ts';
import { DeviceLog } from '../../lib/core/proofs/log.ts';
import { isProofError, ProofError } from '../../lib/core/proofs/errors.ts';
import { logOrigin, logVerifierKey } from '../../lib/core/proofs/keys.ts';
import { buildBundle } from '../../lib/core/proofs/bundle-build.ts';
import { MAX_BUNDLE_BYTES, type BundleSubject } from '../../lib/core/proofs/bundle.ts';
import { BundleCode, verifyBundle } from '../../lib/core/proofs/bundle-verify.ts';
import { TimestampStore } from '../../lib/core/timestamp/store.ts';
import { parsePemCertificates } from '../../lib/core/timestamp/pem.ts';
import { isTimestampError } from '../../lib/core/timestamp/errors.ts';
import { describeFacts } from '../../lib/core/proofs/report.ts';
import {
  loadWitnessState,
  logKeyFor,
  makeWitnessRequest,
  parseWitnessRequest,
  publicKeyOf,
  saveRefusal,
  saveWitnessState,
  witnessCheckpoint,
  type Refusal,
  type WitnessState
} from '../../lib/core/proofs/witness.ts';
import { existingStorage, openSession, resolveEvent, type GlobalOptions, type Session } from '../context.ts';
import { CliError, Exit, type ExitCode, type Output } from '../output.ts';

/** Opens the ledger with this device's key and its log, caught up with the ledger. */
async function openWithLog(opts: GlobalOptions) {
  const s = await openSession(opts, { write: true });
  const signer = identitySigner(s.identity!);
  const log = await guard(() => DeviceLog.attach(s.ledger, s.storage, { signer }));
  return { ...s, signer, log };
}

/** Maps the proofs layer's errors to the CLI's (exit 2 with the code; never an internal error). */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isProofError(e)) {
      // A damaged device log says how to repair it, whichever check found it.
      const repair = (e.code === 'LOG_CORRUPT' || e.code === 'LOG_MISMATCH') && !e.message.includes('verify --repair');
      throw new CliError(
        e.code,
        repair
          ? `${e.message}: nothing was signed; the device log is derived from the ledger, \`provenance-ledger verify --repair\` writes it again`
          : e.message,
        Exit.INPUT
      );
    }
    if (isMerkleError(e)) throw new CliError(e.code, e.message, Exit.INPUT);
    throw e;
  }
}

async function writeNew(file: string, data: Uint8Array, force = false): Promise<string> {
  let handle;
  try {
    handle = await open(file, force ? 'w' : 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LedgerError(ErrorCode.BAD_INPUT, `${file} already exists: choose another --out, or pass --force`);
    throw new LedgerError(ErrorCode.BAD_INPUT, `cannot write ${file}: ${(e as Error).message}`);
  }
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  return path.resolve(file);
}

async function readSmall(file: string, max: number, what: string): Promise<Uint8Array> {
  let size: number;
  try {
    const st = await stat(nativePath(file));
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch (e) {
    throw new CliError('USAGE', `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  if (size > max) return new Uint8Array(size > max + 1 ? max + 1 : size); // judged too large by the parser
  return new Uint8Array(await readFile(nativePath(file)));
}

// ------------------------------------------------------------------------------------------------ checkpoint

export interface CheckpointOptions extends GlobalOptions {
  out?: string;
  from?: string[];
  cosigned?: string;
  force?: boolean;
  /** TSAs to time-stamp this checkpoint with (one-shot); without, the configured ones. */
  tsa?: string[];
}

export async function checkpoint(opts: CheckpointOptions, out: Output): Promise<ExitCode> {
  const stamping = await import('./timestamp.ts');
  const tsas = stamping.checkTsaOption(opts.tsa);
  const s = await openWithLog(opts);
  const { ledger, log, signer } = s;
  if (opts.cosigned) {
    const note = fromUtf8(await readSmall(opts.cosigned, 1 << 20, 'cosigned checkpoint'));
    await guard(() => log.addCosignatures(note));
    const n = parseNote(note).signatures.length - 1;
    out.result(
      { merged: path.resolve(opts.cosigned), size: parseCheckpoint(parseNote(note).text).size, cosignatures: n },
      (say) =>
        say(
          `Merged ${n} cosignature${n === 1 ? '' : 's'} into this log's checkpoint of size ${parseCheckpoint(parseNote(note).text).size}.`
        )
    );
    return Exit.OK;
  }
  const note = await guard(() => log.checkpoint(ledger.id, signer));
  const origin = await logOrigin(ledger.id, signer.publicKey);
  const logKey = await logVerifierKey(ledger.id, signer.publicKey);
  let request: string | undefined;
  if (opts.out) {
    const sizes = opts.from?.length
      ? opts.from.map((f) => {
          const n = Number(f);
          if (!Number.isSafeInteger(n) || n < 1 || n > log.size)
            throw new CliError('USAGE', `--from ${f}: not a size between 1 and ${log.size}`);
          return n;
        })
      : (await log.checkpointSizes()).filter((n) => n < log.size).slice(-32);
    const proofs = new Map(sizes.map((n) => [n, log.consistencyProof(n, log.size)] as [number, Uint8Array[]]));
    request = await writeNew(
      opts.out,
      utf8(JSON.stringify(makeWitnessRequest(note, logKey, proofs), null, 2) + '\n'),
      opts.force
    );
  }
  const stamps = await stamping.stampLog(s.storage, log, tsas);
  out.result(
    {
      origin,
      size: log.size,
      logKey,
      checkpoint: note,
      ...(request ? { request } : {}),
      ...(stamps ? { timestamps: stamps } : {})
    },
    (say) => {
      say(`Checkpoint of this device's log (${log.size} entries), signed:`);
      say();
      for (const l of note.trimEnd().split('\n')) say(`  ${l}`);
      say();
      say(`log key (vkey): ${logKey}`);
      if (request)
        say(
          `witness request written to ${request}: a teammate runs provenance-ledger witness --request ${path.basename(request)} --out cosigned.txt`
        );
      for (const r of stamps ?? []) say(stamping.describeStamp(r, log.size));
    }
  );
  return stamps?.some((r) => !r.ok) ? Exit.PROBLEMS : Exit.OK;
}

// ------------------------------------------------------------------------------------------------ witness

export interface WitnessOptions extends GlobalOptions {
  log?: string;
  request?: string;
  out?: string;
  force?: boolean;
}

export async function witness(opts: WitnessOptions, out: Output): Promise<ExitCode> {
  if (!!opts.log === !!opts.request)
    throw new CliError('USAGE', 'give exactly one of --log OTHERDIR or --request FILE');
  if (opts.request && !opts.out) throw new CliError('USAGE', '--request needs --out FILE for the cosigned checkpoint');
  const s = await openSession(opts, { write: true });
  const signer = identitySigner(s.identity!);
  const ledgerId = s.ledger.id;
  const members = s.ledger
    .roster()
    .filter((m) => m.active && m.key !== signer.publicKey)
    .map((m) => m.key);

  let note: string;
  let proofFor: (prev: WitnessState) => Promise<string[]>;
  let deliver: (cosigned: string) => Promise<string>;
  if (opts.log) {
    const otherStorage = await existingStorage(opts.log);
    const other = await guard(() => DeviceLog.load(otherStorage));
    const sizes = await other.checkpointSizes();
    if (sizes.length === 0)
      throw new CliError(
        'NO_CHECKPOINT',
        `the log in ${opts.log} has no signed checkpoint yet (run provenance-ledger checkpoint --ledger ${opts.log})`
      );
    note = (await other.checkpointNote(sizes[sizes.length - 1]))!;
    proofFor = async (prev) => {
      const size = parseCheckpoint(parseNote(note).text).size;
      try {
        return other.consistencyProof(prev.size, size).map((h) => Buffer.from(h).toString('base64'));
      } catch {
        return []; // the log cannot prove it: witnessCheckpoint refuses with the reason
      }
    };
    deliver = async (cosigned) => {
      await guard(() => other.addCosignatures(cosigned));
      return `the log in ${path.resolve(opts.log!)}`;
    };
  } else {
    const req = await guard(async () =>
      parseWitnessRequest(await readSmall(opts.request!, 1 << 20, 'witness request'))
    );
    note = req.checkpoint;
    proofFor = async (prev) => {
      const size = parseCheckpoint(parseNote(note).text).size;
      if (size <= prev.size) return [];
      const p = req.consistency[String(prev.size)];
      if (!p)
        throw new CliError(
          'WITNESS_REQUEST_INVALID',
          `the request has no consistency proof from size ${prev.size}, the size this device cosigned last: ask for provenance-ledger checkpoint --out FILE --from ${prev.size}`
        );
      return p;
    };
    deliver = async (cosigned) => writeNew(opts.out!, utf8(cosigned), opts.force);
  }

  const logKey = await guard(() => logKeyFor(note, ledgerId, members));
  const logPublicKey = publicKeyOf(logKey);
  const previous = await loadWitnessState(s.storage, ledgerId, logPublicKey);
  const owner = s.ledger.member(logPublicKey)?.name ?? 'a member';
  let result;
  try {
    result = await witnessCheckpoint({
      ledgerId,
      memberKeys: members,
      note,
      proof: previous ? await proofFor(previous) : [],
      previous,
      signer
    });
  } catch (e) {
    if (!(e instanceof ProofError) || !e.detail) {
      await guard(() => Promise.reject(e));
      throw e;
    }
    const kept = await saveRefusal(
      s.storage,
      ledgerId,
      logPublicKey,
      e.detail as Refusal,
      Math.floor(Date.now() / 1000)
    );
    out.result({ ok: false, code: e.code, message: e.message, log: logKey, evidence: kept.join('/') }, (say) => {
      say(`REFUSED [${e.code}]: ${owner}'s log was not cosigned.`);
      say(`  ${e.message}`);
      say(`  both signed checkpoints are kept as evidence under ${kept.join('/')} in this ledger directory`);
    });
    return Exit.PROBLEMS;
  }
  await saveWitnessState(s.storage, ledgerId, result.state);
  const where = await deliver(result.note);
  out.result(
    {
      ok: true,
      origin: result.checkpoint.origin,
      size: result.checkpoint.size,
      previous: previous?.size ?? null,
      time: result.state.time,
      cosigned: result.note,
      deliveredTo: where
    },
    (say) => {
      say(
        `Cosigned ${owner}'s log ${result.checkpoint.origin} at size ${result.checkpoint.size}` +
          (previous
            ? ` (consistent with size ${previous.size}, cosigned before)`
            : ' (first time: trusted on first use)')
      );
      say(`  cosigned checkpoint delivered to ${where}`);
    }
  );
  return Exit.OK;
}

// ------------------------------------------------------------------------------------------------ prove

export interface ProveOptions extends GlobalOptions {
  out: string;
  revealPrompt?: boolean;
  unwitnessed?: boolean;
  force?: boolean;
}

export async function prove(ref: string, opts: ProveOptions, out: Output): Promise<void> {
  const s: Session = await openSession(opts);
  if (!s.identity)
    throw new LedgerError(
      ErrorCode.KEY_MISMATCH,
      `no device key in ${s.dir}: the bundle proves entries of this device's log`
    );
  let subject: BundleSubject;
  const isId =
    /^[0-9a-f]{8,64}$/i.test(ref.trim()) &&
    !(await stat(ref).then(
      () => true,
      () => false
    ));
  if (isId) subject = { event: resolveEvent(s.ledger, ref).id };
  else {
    const { sha256 } = await hashFile(ref);
    subject = { sha256, name: path.basename(ref) };
  }
  const log = await guard(() => DeviceLog.attach(s.ledger, s.storage, { signer: identitySigner(s.identity!) }));
  // Configured TSAs time-stamp the newest checkpoint first (and pending requests are retried); a failure is a warning.
  const stamping = await import('./timestamp.ts');
  for (const r of (await stamping.stampLog(s.storage, log)) ?? []) {
    if (r.ok) out.note(stamping.describeStamp(r, log.size));
    else out.warn(stamping.describeStamp(r, log.size));
  }
  let openings: Opening[] = [];
  if (opts.revealPrompt) {
    const vault = new PromptVault(s.storage);
    for (const ev of s.ledger.events()) {
      if (ev.event.type !== 'generation') continue;
      const b = ev.event.body as { prompt?: { commitment: string }; negativePrompt?: { commitment: string } };
      for (const c of [b.prompt, b.negativePrompt]) {
        const o = c && (await vault.get(c.commitment));
        if (o) openings.push(o);
      }
    }
  }
  const { bundle, bytes } = await guard(() =>
    buildBundle({
      ledger: s.ledger,
      log,
      logPublicKey: s.identity!.publicKey,
      subject,
      openings,
      allowUnwitnessed: opts.unwitnessed,
      timestamps: new TimestampStore(s.storage)
    })
  );
  if (opts.revealPrompt && bundle.openings.length === 0)
    out.note("no prompt opening of these generations is in this device's vault: none revealed");
  openings = [];
  const file = await writeNew(opts.out, bytes, opts.force);
  out.result(
    {
      out: file,
      events: bundle.events.length,
      bytes: bytes.length,
      openings: bundle.openings.length,
      witnesses: bundle.witnessKeys.length,
      report: bundle.report
    },
    (say) => {
      say(
        `Wrote ${file} (${bytes.length} bytes): ${bundle.events.length} events, ${bundle.openings.length} prompt opening${bundle.openings.length === 1 ? '' : 's'}, ${bundle.witnessKeys.length} witness${bundle.witnessKeys.length === 1 ? '' : 'es'}.`
      );
      say('Anyone can check it offline: provenance-ledger verify-bundle ' + path.basename(file));
      say();
      for (const l of bundle.report.trimEnd().split('\n')) say(l);
    }
  );
}

// ------------------------------------------------------------------------------------------------ verify-bundle

export interface VerifyBundleOptions extends GlobalOptions {
  file?: string[];
  /** PEM files of the roots a time-stamp token must chain to (else $PROVENANCE_LEDGER_TSA_ROOTS). */
  tsaRoots?: string[];
  expectLedger?: string;
}

export const TSA_ROOTS_ENV = 'PROVENANCE_LEDGER_TSA_ROOTS';

async function readRoots(files: readonly string[]): Promise<Uint8Array[]> {
  const roots: Uint8Array[] = [];
  for (const f of files) {
    try {
      roots.push(...parsePemCertificates(fromUtf8(await readSmall(f, 1024 * 1024, 'TSA roots'))));
    } catch (e) {
      if (isTimestampError(e)) throw new LedgerError(ErrorCode.BAD_INPUT, `${f}: ${e.message}`);
      throw e;
    }
  }
  return roots;
}

export async function verifyBundleCommand(
  bundleFile: string,
  opts: VerifyBundleOptions,
  out: Output
): Promise<ExitCode> {
  const bytes = await readSmall(bundleFile, MAX_BUNDLE_BYTES, 'bundle');
  if (opts.expectLedger !== undefined && !/^[0-9a-f]{64}$/i.test(opts.expectLedger)) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `--expect-ledger: ${JSON.stringify(opts.expectLedger)} is not a ledger id (64 hex digits)`
    );
  }
  const rootFiles = opts.tsaRoots?.length
    ? opts.tsaRoots
    : (process.env[TSA_ROOTS_ENV] ?? '').split(path.delimiter).filter(Boolean);
  const tsaRoots = await readRoots(rootFiles);
  const files = [];
  for (const f of opts.file ?? []) files.push({ name: path.basename(f), ...(await hashFile(f)) });
  const res = await verifyBundle(bytes, files, { tsaRoots, expectLedger: opts.expectLedger });
  const statements = res.bundleOk && res.facts ? describeFacts(res.facts) : [];
  const bundleFailures = res.failures.filter((f) => f.code !== BundleCode.FILE_MISMATCH);
  const fileFailures = res.failures.filter((f) => f.code === BundleCode.FILE_MISMATCH);
  out.result(
    { ok: res.ok, bundleOk: res.bundleOk, failures: res.failures, notices: res.notices, statements },
    (say) => {
      const name = path.basename(bundleFile);
      if (res.bundleOk) {
        say(
          `VALID: ${name} checks out (signatures, membership, inclusion proofs, checkpoint, cosignatures and time-stamps).`
        );
        for (const f of fileFailures) say(`FILE DOES NOT MATCH [${f.code}]: ${f.message}`);
        if (files.length && !fileFailures.length) say(`Every file given is one the bundle names.`);
        for (const n of res.notices) say(`Notice: ${n}`);
        say();
        for (const l of statements) say(l);
      } else {
        say(
          `INVALID: ${bundleFailures.length} failure${bundleFailures.length === 1 ? '' : 's'} in ${name}: nothing in it can be relied on`
        );
        for (const f of bundleFailures) say(`  [${f.code}] ${f.location}: ${f.message}`);
        for (const f of fileFailures) say(`  [${f.code}] ${f.location}: ${f.message}`);
        for (const n of res.notices) say(`Notice: ${n}`);
      }
    }
  );
  return res.ok ? Exit.OK : Exit.PROBLEMS;
}
