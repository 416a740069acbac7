/**
 * Offline verification of an evidence bundle (ledger-schema/README.md section 17, step by step). Nothing is
 * trusted but the bytes given: each failure is reported with a stable code and where it was found, and what
 * holds is stated in plain words (report.ts).
 */
import { bytesEqual, fromBase64, toBase64url, utf8 } from '../bytes.ts';
import { verifyOpening } from '../commitment.ts';
import { initHash, sha256HexSync } from '../hash.ts';
import { canonicalBytes } from '../canonical.ts';
import type { EventId, LedgerEvent } from '../event.ts';
import { applyToRoster, isGenesis, topoOrder, type Roster } from '../roster.ts';
import { checkEntries } from '../verify.ts';
import { openCosignedCheckpoint, createCosignatureVerifier, type Cosignature } from '../merkle/cosignature.ts';
import { createEd25519Verifier, parseVerifierKey, type NoteVerifier } from '../merkle/note.ts';
import { formatCheckpoint, type Checkpoint } from '../merkle/checkpoint.ts';
import { createTreeHasher } from '../merkle/hash.ts';
import { verifyConsistency, verifyInclusion } from '../merkle/proof.ts';
import { checkpointImprint } from '../timestamp/request.ts';
import { verifyTimestampToken, type TokenVerdict } from '../timestamp/verify.ts';
import { BundleFormatError, parseBundle, type Bundle, type BundleTolerance } from './bundle.ts';
import { logOrigin, witnessName } from './keys.ts';
import { fileHashes, fileRefs } from '../query.ts';
import { proverReport } from './report.ts';

export const BundleCode = {
  MALFORMED: 'BUNDLE_MALFORMED',
  TOO_LARGE: 'BUNDLE_TOO_LARGE',
  LEDGER_UNEXPECTED: 'LEDGER_UNEXPECTED',
  EVENT_INVALID: 'EVENT_INVALID',
  DUPLICATE_EVENT: 'DUPLICATE_EVENT',
  GENESIS_MISSING: 'GENESIS_MISSING',
  NOT_A_MEMBER: 'AUTHOR_NOT_MEMBER_IN_BUNDLE',
  LOG_KEY_UNKNOWN: 'LOG_KEY_UNKNOWN',
  LOG_KEY_REMOVED: 'LOG_KEY_REMOVED',
  CHECKPOINT_INVALID: 'CHECKPOINT_INVALID',
  WITNESS_KEY_UNKNOWN: 'WITNESS_KEY_UNKNOWN',
  WITNESS_IS_LOG: 'WITNESS_IS_LOG',
  WITNESS_REMOVED: 'WITNESS_REMOVED',
  INCLUSION_PROOF_INVALID: 'INCLUSION_PROOF_INVALID',
  LEAF_REUSED: 'LEAF_REUSED',
  TIMESTAMP_INVALID: 'TIMESTAMP_INVALID',
  OPENING_MISMATCH: 'OPENING_MISMATCH',
  OPENING_UNUSED: 'OPENING_UNUSED',
  SUBJECT_MISSING: 'SUBJECT_MISSING',
  FILE_MISMATCH: 'FILE_NOT_IN_BUNDLE'
} as const;
export type BundleCode = (typeof BundleCode)[keyof typeof BundleCode];

export interface BundleFailure {
  code: BundleCode;
  message: string;
  /** JSON path in the bundle, or a file name. */
  location: string;
}

/** A teammate's cosignature on the checkpoint, as checked. Its time is the witness's claim, never proof. */
export interface CheckedCosignature extends Cosignature {
  key: string;
  member?: string;
  /** The witness is another device of the log's own member: not an independent attestation. */
  sameMember: boolean;
  /** Dated before the time of an event it covers: its time bounds nothing. */
  beforeEvents?: { event: string; time: string };
}

/** A time-stamp token of the bundle, as checked (invalid tokens are failures and are not listed). */
export interface CheckedTimestamp {
  /** Index in the bundle's `timestamps`. */
  index: number;
  /** The checkpoint size the token covers: leaves below it existed no later than its time (when trusted). */
  size: number;
  verdict: Exclude<TokenVerdict, { status: 'invalid' }>;
}

/** What a valid bundle establishes (report.ts turns it into sentences). */
export interface BundleFacts {
  ledger: string;
  ledgerName: string;
  /** The ledger id matched the one the verifier was told to expect (--expect-ledger). */
  ledgerExpected: boolean;
  subject: Bundle['subject'];
  /** In replay order: parents first, then (time, id). */
  events: LedgerEvent[];
  /** Each included event's leaf index in the log. */
  leaves: Map<string, number>;
  roster: Roster;
  checkpoint: Checkpoint;
  logKey: string;
  logOwner?: string;
  cosignatures: CheckedCosignature[];
  timestamps: CheckedTimestamp[];
  openings: Array<{ event: string; field: 'prompt' | 'negativePrompt'; prompt: string }>;
  files: Array<{ file: string; sha256: string; events: string[] }>;
}

export interface BundleResult {
  /** The bundle is valid and every file given is one it names. */
  ok: boolean;
  /** The bundle itself is valid (its statements stand), whatever the files given. */
  bundleOk: boolean;
  failures: BundleFailure[];
  /** Things the reader must know that do not make the bundle invalid (an untrusted token, a re-formatted file). */
  notices: string[];
  facts?: BundleFacts;
}

export interface GivenFile {
  name: string;
  sha256: string;
}

export interface VerifyOptions {
  /** Roots (DER certificates) a time-stamp token must chain to for its time to be trusted. */
  tsaRoots?: readonly Uint8Array[];
  /** The ledger id the verifier knows by other means: any other is a failure. */
  expectLedger?: string;
}

/** Verifies bundle bytes (and files given beside it, by name and SHA-256). Never throws on bad input. */
export async function verifyBundle(
  bytes: Uint8Array,
  files: readonly GivenFile[] = [],
  opts: VerifyOptions = {}
): Promise<BundleResult> {
  let bundle: Bundle;
  const tolerated: BundleTolerance = { bom: false, trailingWhitespace: 0 };
  try {
    bundle = parseBundle(bytes, tolerated);
  } catch (e) {
    if (e instanceof BundleFormatError) {
      // The location names the field; the message says what is wrong with it (reports print "location: message").
      const code = e.reason.includes('too large') ? BundleCode.TOO_LARGE : BundleCode.MALFORMED;
      return { ok: false, bundleOk: false, notices: [], failures: [{ code, message: e.reason, location: e.path }] };
    }
    return {
      ok: false,
      bundleOk: false,
      notices: [],
      failures: [{ code: BundleCode.MALFORMED, message: String((e as Error)?.message ?? e), location: 'bundle' }]
    };
  }
  try {
    const res = await verifyParsed(bundle, files, opts);
    const around: string[] = [];
    if (tolerated.bom) around.push('a UTF-8 byte order mark before it');
    if (tolerated.trailingWhitespace) around.push(`${tolerated.trailingWhitespace} whitespace byte(s) after it`);
    if (around.length)
      res.notices.unshift(
        `The file holds ${around.join(' and ')}; they are not part of the bundle and were ignored (ledger-schema section 16).`
      );
    return res;
  } catch (e) {
    // A bug or an input the checks above did not foresee: still a named failure, never a crash.
    return {
      ok: false,
      bundleOk: false,
      notices: [],
      failures: [
        { code: BundleCode.MALFORMED, message: `unexpected: ${(e as Error)?.message ?? e}`, location: 'bundle' }
      ]
    };
  }
}

async function verifyParsed(bundle: Bundle, files: readonly GivenFile[], opts: VerifyOptions): Promise<BundleResult> {
  await initHash();
  const failures: BundleFailure[] = [];
  const notices: string[] = [];
  const fail = (code: BundleCode, message: string, location: string) => failures.push({ code, message, location });
  const ledgerId = bundle.ledger;

  // Step 1b: the ledger the verifier expects.
  const expect = opts.expectLedger?.toLowerCase();
  if (expect !== undefined && expect !== ledgerId)
    fail(BundleCode.LEDGER_UNEXPECTED, `the bundle is about ledger ${ledgerId}, not the expected ${expect}`, 'ledger');

  // Step 2: each envelope on its own (ledger-schema section 11, steps 1-7), its id computed from its content.
  const entries: Array<[string, string]> = [];
  const where = new Map<string, number>();
  bundle.events.forEach((e, i) => {
    let id: string;
    try {
      const env = JSON.parse(e.envelope);
      id = sha256HexSync(canonicalBytes(env?.event));
    } catch {
      fail(BundleCode.EVENT_INVALID, 'the envelope is not JSON with an "event" object', `events[${i}].envelope`);
      return;
    }
    if (where.has(id)) {
      fail(BundleCode.DUPLICATE_EVENT, `event ${id} is included twice (also events[${where.get(id)}])`, `events[${i}]`);
      return;
    }
    where.set(id, i);
    entries.push([id, e.envelope]);
  });
  const checked = await checkEntries(entries, ledgerId);
  for (const p of checked.problems) {
    fail(
      BundleCode.EVENT_INVALID,
      `[${p.code}] event ${p.eventId ?? '?'}: ${p.message}`,
      `events[${where.get(p.eventId ?? '') ?? '?'}].envelope`
    );
  }
  // Replay order: parents first (edges between included events), then (time, id). Sorting by (time, id) alone
  // is not topological when a child has its parent's time and a smaller id.
  const events = topoOrder(checked.events as Map<EventId, LedgerEvent>).map((id) => checked.events.get(id)!);

  // Step 3: the genesis, whose id is the ledger id.
  const genesis = checked.events.get(ledgerId as EventId);
  if (
    !genesis ||
    !isGenesis(genesis) ||
    (genesis.event.body as { member: { key: string } }).member.key !== genesis.event.author
  ) {
    fail(
      BundleCode.GENESIS_MISSING,
      `the genesis event ${ledgerId} (the ledger id) is not included, or not valid`,
      'ledger'
    );
  }

  // Step 4: membership, replaying the included member events in that order.
  const roster: Roster = new Map();
  for (const ev of events) {
    const loc = `events[${where.get(ev.id)}]`;
    if (isGenesis(ev)) {
      if (ev.id === ledgerId) applyGenesis(roster, ev);
      continue;
    }
    const early = ev.event.parents.find(
      (p) => checked.events.has(p as EventId) && checked.events.get(p as EventId)!.event.time > ev.event.time
    );
    if (early)
      fail(BundleCode.EVENT_INVALID, `[TIME_BEFORE_PARENT] event ${ev.id} is dated before its parent ${early}`, loc);
    const why = applyToRoster(roster, ev);
    if (why)
      fail(
        BundleCode.NOT_A_MEMBER,
        `[${why.code}] event ${ev.id}: ${why.message} (judged against the member events included in the bundle)`,
        loc
      );
  }

  // Step 5: the checkpoint, signed by the log key of an active member, cosigned by other active members' devices.
  // Every included event is a leaf of the checkpoint (step 6), so a removal included in the bundle was logged
  // before the checkpoint was signed, and before any cosignature on it was made.
  let checkpoint: Checkpoint | undefined;
  let cosignatures: CheckedCosignature[] = [];
  let logOwner: string | undefined;
  let logMemberId: string | undefined;
  let logVerifier: NoteVerifier | undefined;
  let logPublicKey: string | undefined;
  try {
    const vk = parseVerifierKey(bundle.logKey);
    const key = toBase64url(vk.publicKey);
    const member = roster.get(key);
    if (!member) throw new Error(`the log key ${vk.name} is not the key of a member in the bundle's roster`);
    if (vk.name !== (await logOrigin(ledgerId, key)))
      throw new Error(`the log key's name ${vk.name} is not ${await logOrigin(ledgerId, key)}`);
    logOwner = member.name;
    logMemberId = member.memberId;
    logPublicKey = key;
    logVerifier = await createEd25519Verifier(bundle.logKey);
    if (!member.active)
      fail(
        BundleCode.LOG_KEY_REMOVED,
        `the log's device (${member.name}) was removed by event ${member.since}, which this checkpoint covers: it signed the checkpoint after its removal`,
        'logKey'
      );
  } catch (e) {
    fail(BundleCode.LOG_KEY_UNKNOWN, (e as Error).message, 'logKey');
  }
  const witnesses: NoteVerifier[] = [];
  const witnessKey = new Map<string, string>();
  for (const [i, wk] of bundle.witnessKeys.entries()) {
    try {
      const vk = parseVerifierKey(wk);
      const key = toBase64url(vk.publicKey);
      const member = roster.get(key);
      if (!member) throw new Error(`witness key ${vk.name} is not the key of a member in the bundle's roster`);
      if (vk.name !== (await witnessName(ledgerId, key)))
        throw new Error(`the witness key's name ${vk.name} is not ${await witnessName(ledgerId, key)}`);
      const v = await createCosignatureVerifier(wk);
      witnesses.push(v);
      witnessKey.set(`${v.name} ${v.keyId}`, key);
      if (key === logPublicKey) {
        fail(
          BundleCode.WITNESS_IS_LOG,
          `witness key ${vk.name} is the log's own device key: a device cannot witness its own log`,
          `witnessKeys[${i}]`
        );
      } else if (!member.active) {
        fail(
          BundleCode.WITNESS_REMOVED,
          `witness ${member.name} (${vk.name}) was removed by event ${member.since}, which the checkpoint covers: its cosignature was made after its removal`,
          `witnessKeys[${i}]`
        );
      }
    } catch (e) {
      fail(BundleCode.WITNESS_KEY_UNKNOWN, (e as Error).message, `witnessKeys[${i}]`);
    }
  }
  if (logVerifier) {
    try {
      const opened = await openCosignedCheckpoint(bundle.checkpoint, logVerifier, witnesses);
      if (opened.checkpoint.origin !== logVerifier.name)
        throw new Error(`origin ${opened.checkpoint.origin} is not the log key's name ${logVerifier.name}`);
      checkpoint = opened.checkpoint;
      const newest = events.reduce<LedgerEvent | undefined>(
        (a, e) => (!a || e.event.time > a.event.time ? e : a),
        undefined
      );
      cosignatures = opened.cosignatures.map((c) => {
        const key = witnessKey.get(`${c.name} ${c.keyId}`)!;
        const entry = roster.get(key);
        const out: CheckedCosignature = {
          ...c,
          key,
          member: entry?.name,
          sameMember: entry !== undefined && entry.memberId === logMemberId
        };
        if (newest && isoSeconds(c.timestamp) < newest.event.time.slice(0, 19) + 'Z')
          out.beforeEvents = { event: newest.id, time: newest.event.time };
        return out;
      });
      for (const w of witnesses) {
        if (!opened.cosignatures.some((c) => c.name === w.name && c.keyId === w.keyId)) {
          fail(
            BundleCode.WITNESS_KEY_UNKNOWN,
            `witness key ${w.name} has no cosignature on the checkpoint`,
            'witnessKeys'
          );
        }
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      fail(BundleCode.CHECKPOINT_INVALID, `${code ? `[${code}] ` : ''}${(e as Error).message}`, 'checkpoint');
    }
  }

  // Step 6: every included event is a leaf of the checkpoint's tree.
  const leaves = new Map<string, number>();
  const hasher = await createTreeHasher();
  if (checkpoint) {
    const byLeaf = new Map<number, number>();
    bundle.events.forEach((e, i) => {
      const loc = `events[${i}]`;
      if (byLeaf.has(e.leaf))
        fail(BundleCode.LEAF_REUSED, `leaf ${e.leaf} is claimed by events[${byLeaf.get(e.leaf)}] too`, `${loc}.leaf`);
      byLeaf.set(e.leaf, i);
      try {
        verifyInclusion(
          hasher,
          e.leaf,
          checkpoint!.size,
          hasher.hashLeaf(utf8(e.envelope)),
          e.proof.map((h) => fromBase64(h)),
          checkpoint!.rootHash
        );
      } catch (err) {
        const code = (err as { code?: string }).code;
        fail(
          BundleCode.INCLUSION_PROOF_INVALID,
          `[${code ?? 'ERROR'}] leaf ${e.leaf} of ${checkpoint!.size}: ${(err as Error).message}`,
          `${loc}.proof`
        );
      }
    });
    for (const [id, i] of where) leaves.set(id, bundle.events[i].leaf);
  }

  // Step 7: time-stamp tokens over this checkpoint, or over an earlier one of the same log it is consistent with.
  const timestamps: CheckedTimestamp[] = [];
  if (checkpoint) {
    for (const [i, t] of (bundle.timestamps ?? []).entries()) {
      const loc = `timestamps[${i}]`;
      const root = fromBase64(t.root);
      try {
        if (t.size > checkpoint.size)
          throw new Error(`size ${t.size} is larger than the checkpoint's ${checkpoint.size}`);
        if (t.size === checkpoint.size) {
          if (t.consistency.length || !bytesEqual(root, checkpoint.rootHash))
            throw new Error(
              `at the checkpoint's size the root must be the checkpoint's and the consistency proof empty`
            );
        } else {
          verifyConsistency(
            hasher,
            t.size,
            checkpoint.size,
            t.consistency.map((h) => fromBase64(h)),
            root,
            checkpoint.rootHash
          );
        }
      } catch (err) {
        fail(
          BundleCode.TIMESTAMP_INVALID,
          `the time-stamped checkpoint of size ${t.size} is not an earlier state of this log: ${(err as Error).message}`,
          `${loc}.consistency`
        );
        continue;
      }
      const text = formatCheckpoint({ origin: checkpoint.origin, size: t.size, rootHash: root, extensions: [] });
      const verdict = await verifyTimestampToken(
        fromBase64(t.token),
        await checkpointImprint(text),
        opts.tsaRoots ?? []
      );
      if (verdict.status === 'invalid') {
        fail(BundleCode.TIMESTAMP_INVALID, `[${verdict.code}] ${verdict.reason}`, `${loc}.token`);
        continue;
      }
      timestamps.push({ index: i, size: t.size, verdict });
      if (verdict.status === 'untrusted') {
        notices.push(
          `The time-stamp token ${loc} (${verdict.info.tsa}, ${verdict.info.genTime}) is not trusted: ${verdict.reason}. Its time proves nothing until its root is trusted (--tsa-roots).`
        );
      }
    }
  }

  // Step 8: openings recomputed against the commitments in the included generations.
  const openings: BundleFacts['openings'] = [];
  for (const [i, o] of bundle.openings.entries()) {
    const holder = events.find((ev) => {
      const b = ev.event.body as { prompt?: { commitment: string }; negativePrompt?: { commitment: string } };
      return (
        ev.event.type === 'generation' &&
        (b.prompt?.commitment === o.commitment || b.negativePrompt?.commitment === o.commitment)
      );
    });
    if (!holder) {
      fail(BundleCode.OPENING_UNUSED, `no included generation commits to ${o.commitment}`, `openings[${i}]`);
      continue;
    }
    try {
      await verifyOpening(o, o.commitment);
      const b = holder.event.body as { prompt?: { commitment: string } };
      openings.push({
        event: holder.id,
        field: b.prompt?.commitment === o.commitment ? 'prompt' : 'negativePrompt',
        prompt: o.prompt
      });
    } catch (e) {
      fail(
        BundleCode.OPENING_MISMATCH,
        `the opening of generation ${holder.id.slice(0, 16)}…: ${(e as Error).message}`,
        `openings[${i}]`
      );
    }
  }

  // Step 9: the subject is named by an included event.
  const byHash = new Map<string, string[]>();
  for (const ev of events) for (const h of fileHashes(ev)) byHash.set(h, [...(byHash.get(h) ?? []), ev.id]);
  if ('event' in bundle.subject) {
    if (!checked.events.has(bundle.subject.event as EventId))
      fail(
        BundleCode.SUBJECT_MISSING,
        `the subject event ${bundle.subject.event} is not among the valid included events`,
        'subject.event'
      );
  } else if (!byHash.has(bundle.subject.sha256)) {
    fail(
      BundleCode.SUBJECT_MISSING,
      `no included event names a file with SHA-256 ${bundle.subject.sha256}`,
      'subject.sha256'
    );
  } else if (bundle.subject.name !== undefined) {
    const { sha256, name } = bundle.subject;
    const named = events.some((ev) => fileRefs(ev).some((r) => r.sha256 === sha256 && r.name === name));
    if (!named)
      fail(
        BundleCode.SUBJECT_MISSING,
        `no included event names a file ${JSON.stringify(name)} with SHA-256 ${sha256}`,
        'subject.name'
      );
  }
  const bundleOk = failures.length === 0;

  // Step 10: each file given is one the bundle names (a wrong file does not make the bundle invalid).
  const given: BundleFacts['files'] = [];
  for (const f of files) {
    const evs = byHash.get(f.sha256);
    if (!evs)
      fail(
        BundleCode.FILE_MISMATCH,
        `the file ${f.name} (sha256 ${f.sha256}) is not a file this bundle names: it is not the file the bundle is about`,
        f.name
      );
    else given.push({ file: f.name, sha256: f.sha256, events: evs });
  }

  const facts: BundleFacts | undefined =
    checkpoint && genesis
      ? {
          ledger: ledgerId,
          ledgerName: (genesis.event.body as { ledgerName: string }).ledgerName,
          ledgerExpected: expect === ledgerId,
          subject: bundle.subject,
          events,
          leaves,
          roster,
          checkpoint,
          logKey: bundle.logKey,
          logOwner,
          cosignatures,
          timestamps,
          openings,
          files: given
        }
      : undefined;
  // The prover's report is not evidence: when it is not this verifier's own reading, the reader is told.
  if (facts && bundleOk && bundle.report !== proverReport(facts)) {
    notices.push(
      "The bundle's own report is not this verifier's reading of it (edited, or written by another version): rely on the statements below, not on it."
    );
  }
  return { ok: failures.length === 0, bundleOk, failures, notices, facts };
}

function applyGenesis(roster: Roster, ev: LedgerEvent): void {
  const m = (ev.event.body as { member: { id: string; name: string; key: string } }).member;
  roster.set(m.key, { key: m.key, memberId: m.id, name: m.name, role: 'owner', active: true, since: ev.id });
}

const isoSeconds = (t: number) => new Date(t * 1000).toISOString().slice(0, 19) + 'Z';
