/**
 * Offline verification of an evidence bundle (ledger-schema/README.md section 17, step by step). Nothing is
 * trusted but the bytes given: each failure is reported with a stable code and where it was found, and what
 * holds is stated in plain words (report.ts).
 */
import { fromBase64, toBase64url, utf8 } from '../bytes.ts';
import { verifyOpening } from '../commitment.ts';
import { initHash, sha256HexSync } from '../hash.ts';
import { canonicalBytes } from '../canonical.ts';
import type { EventId, LedgerEvent } from '../event.ts';
import { applyToRoster, isGenesis, type Roster } from '../roster.ts';
import { checkEntries } from '../verify.ts';
import { openCosignedCheckpoint, createCosignatureVerifier, type Cosignature } from '../merkle/cosignature.ts';
import { createEd25519Verifier, parseVerifierKey, type NoteVerifier } from '../merkle/note.ts';
import type { Checkpoint } from '../merkle/checkpoint.ts';
import { createTreeHasher } from '../merkle/hash.ts';
import { verifyInclusion } from '../merkle/proof.ts';
import { BundleFormatError, parseBundle, type Bundle } from './bundle.ts';
import { logOrigin, witnessName } from './keys.ts';
import { fileHashes } from '../query.ts';
import { describeFacts } from './report.ts';

export const BundleCode = {
  MALFORMED: 'BUNDLE_MALFORMED',
  TOO_LARGE: 'BUNDLE_TOO_LARGE',
  EVENT_INVALID: 'EVENT_INVALID',
  DUPLICATE_EVENT: 'DUPLICATE_EVENT',
  GENESIS_MISSING: 'GENESIS_MISSING',
  NOT_A_MEMBER: 'AUTHOR_NOT_MEMBER_IN_BUNDLE',
  LOG_KEY_UNKNOWN: 'LOG_KEY_UNKNOWN',
  CHECKPOINT_INVALID: 'CHECKPOINT_INVALID',
  WITNESS_KEY_UNKNOWN: 'WITNESS_KEY_UNKNOWN',
  INCLUSION_PROOF_INVALID: 'INCLUSION_PROOF_INVALID',
  LEAF_REUSED: 'LEAF_REUSED',
  OPENING_MISMATCH: 'OPENING_MISMATCH',
  OPENING_UNUSED: 'OPENING_UNUSED',
  SUBJECT_MISSING: 'SUBJECT_MISSING',
  FILE_MISMATCH: 'FILE_NOT_IN_BUNDLE',
  REPORT_DIFFERS: 'REPORT_DIFFERS'
} as const;
export type BundleCode = (typeof BundleCode)[keyof typeof BundleCode];

export interface BundleFailure {
  code: BundleCode;
  message: string;
  /** JSON path in the bundle, or a file name. */
  location: string;
}

/** What a valid bundle establishes (report.ts turns it into sentences). */
export interface BundleFacts {
  ledger: string;
  ledgerName: string;
  subject: Bundle['subject'];
  /** Sorted by (time, id). */
  events: LedgerEvent[];
  roster: Roster;
  checkpoint: Checkpoint;
  logKey: string;
  logOwner?: string;
  cosignatures: Array<Cosignature & { member?: string; key: string }>;
  openings: Array<{ event: string; field: 'prompt' | 'negativePrompt'; prompt: string }>;
  files: Array<{ file: string; sha256: string; events: string[] }>;
}

export interface BundleResult {
  ok: boolean;
  failures: BundleFailure[];
  facts?: BundleFacts;
}

export interface GivenFile {
  name: string;
  sha256: string;
}

/** Verifies bundle bytes (and files given beside it, by name and SHA-256). Never throws on bad input. */
export async function verifyBundle(bytes: Uint8Array, files: readonly GivenFile[] = []): Promise<BundleResult> {
  let bundle: Bundle;
  try {
    bundle = parseBundle(bytes);
  } catch (e) {
    if (e instanceof BundleFormatError) {
      // The location names the field; the message says what is wrong with it (reports print "location: message").
      return { ok: false, failures: [{ code: e.reason.includes('too large') ? BundleCode.TOO_LARGE : BundleCode.MALFORMED, message: e.reason, location: e.path }] };
    }
    return { ok: false, failures: [{ code: BundleCode.MALFORMED, message: String((e as Error)?.message ?? e), location: 'bundle' }] };
  }
  try {
    return await verifyParsed(bundle, files);
  } catch (e) {
    // A bug or an input the checks above did not foresee: still a named failure, never a crash.
    return { ok: false, failures: [{ code: BundleCode.MALFORMED, message: `unexpected: ${(e as Error)?.message ?? e}`, location: 'bundle' }] };
  }
}

async function verifyParsed(bundle: Bundle, files: readonly GivenFile[]): Promise<BundleResult> {
  await initHash();
  const failures: BundleFailure[] = [];
  const fail = (code: BundleCode, message: string, location: string) => failures.push({ code, message, location });
  const ledgerId = bundle.ledger;

  // Step 2: each envelope on its own (ledger-schema section 11, steps 1-7), its id computed from its content.
  const entries: Array<[string, string]> = [];
  const where = new Map<string, number>();
  bundle.events.forEach((e, i) => {
    let id = '';
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
    fail(BundleCode.EVENT_INVALID, `[${p.code}] event ${p.eventId ?? '?'}: ${p.message}`, `events[${where.get(p.eventId ?? '') ?? '?'}].envelope`);
  }
  const events = [...checked.events.values()].sort(byTimeId);

  // Step 3: the genesis, whose id is the ledger id.
  const genesis = checked.events.get(ledgerId as EventId);
  if (!genesis || !isGenesis(genesis) || (genesis.event.body as { member: { key: string } }).member.key !== genesis.event.author) {
    fail(BundleCode.GENESIS_MISSING, `the genesis event ${ledgerId} (the ledger id) is not included, or not valid`, 'ledger');
  }

  // Step 4: membership, replaying the included member events in (time, id) order.
  const roster: Roster = new Map();
  for (const ev of events) {
    const loc = `events[${where.get(ev.id)}]`;
    if (isGenesis(ev)) {
      if (ev.id === ledgerId) applyGenesis(roster, ev);
      continue;
    }
    const early = ev.event.parents.find((p) => checked.events.has(p as EventId) && checked.events.get(p as EventId)!.event.time > ev.event.time);
    if (early) fail(BundleCode.EVENT_INVALID, `[TIME_BEFORE_PARENT] event ${ev.id} is dated before its parent ${early}`, loc);
    const why = applyToRoster(roster, ev);
    if (why) fail(BundleCode.NOT_A_MEMBER, `[${why.code}] event ${ev.id}: ${why.message} (judged against the member events included in the bundle)`, loc);
  }

  // Step 5: the checkpoint, signed by the log key of a member, cosigned by witnesses who are members.
  let checkpoint: Checkpoint | undefined;
  let cosignatures: BundleFacts['cosignatures'] = [];
  let logOwner: string | undefined;
  let logVerifier: NoteVerifier | undefined;
  try {
    const vk = parseVerifierKey(bundle.logKey);
    const key = toBase64url(vk.publicKey);
    const member = roster.get(key);
    if (!member) throw new Error(`the log key ${vk.name} is not the key of a member in the bundle's roster`);
    if (vk.name !== (await logOrigin(ledgerId, key))) throw new Error(`the log key's name ${vk.name} is not ${await logOrigin(ledgerId, key)}`);
    logOwner = member.name;
    logVerifier = await createEd25519Verifier(bundle.logKey);
  } catch (e) {
    fail(BundleCode.LOG_KEY_UNKNOWN, (e as Error).message, 'logKey');
  }
  const witnesses: NoteVerifier[] = [];
  const witnessKey = new Map<string, string>();
  for (const [i, wk] of bundle.witnessKeys.entries()) {
    try {
      const vk = parseVerifierKey(wk);
      const key = toBase64url(vk.publicKey);
      if (!roster.get(key)) throw new Error(`witness key ${vk.name} is not the key of a member in the bundle's roster`);
      if (vk.name !== (await witnessName(ledgerId, key))) throw new Error(`the witness key's name ${vk.name} is not ${await witnessName(ledgerId, key)}`);
      const v = await createCosignatureVerifier(wk);
      witnesses.push(v);
      witnessKey.set(`${v.name} ${v.keyId}`, key);
    } catch (e) {
      fail(BundleCode.WITNESS_KEY_UNKNOWN, (e as Error).message, `witnessKeys[${i}]`);
    }
  }
  if (logVerifier) {
    try {
      const opened = await openCosignedCheckpoint(bundle.checkpoint, logVerifier, witnesses);
      if (opened.checkpoint.origin !== logVerifier.name) throw new Error(`origin ${opened.checkpoint.origin} is not the log key's name ${logVerifier.name}`);
      checkpoint = opened.checkpoint;
      cosignatures = opened.cosignatures.map((c) => {
        const key = witnessKey.get(`${c.name} ${c.keyId}`)!;
        return { ...c, key, member: roster.get(key)?.name };
      });
      for (const w of witnesses) {
        if (!opened.cosignatures.some((c) => c.name === w.name && c.keyId === w.keyId)) {
          fail(BundleCode.WITNESS_KEY_UNKNOWN, `witness key ${w.name} has no cosignature on the checkpoint`, 'witnessKeys');
        }
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      fail(BundleCode.CHECKPOINT_INVALID, `${code ? `[${code}] ` : ''}${(e as Error).message}`, 'checkpoint');
    }
  }

  // Step 6: every included event is a leaf of the checkpoint's tree.
  if (checkpoint) {
    const hasher = await createTreeHasher();
    const leaves = new Map<number, number>();
    bundle.events.forEach((e, i) => {
      const loc = `events[${i}]`;
      if (leaves.has(e.leaf)) fail(BundleCode.LEAF_REUSED, `leaf ${e.leaf} is claimed by events[${leaves.get(e.leaf)}] too`, `${loc}.leaf`);
      leaves.set(e.leaf, i);
      try {
        verifyInclusion(hasher, e.leaf, checkpoint!.size, hasher.hashLeaf(utf8(e.envelope)), e.proof.map((h) => fromBase64(h)), checkpoint!.rootHash);
      } catch (err) {
        const code = (err as { code?: string }).code;
        fail(BundleCode.INCLUSION_PROOF_INVALID, `[${code ?? 'ERROR'}] leaf ${e.leaf} of ${checkpoint!.size}: ${(err as Error).message}`, `${loc}.proof`);
      }
    });
  }

  // Step 7: openings recomputed against the commitments in the included generations.
  const openings: BundleFacts['openings'] = [];
  for (const [i, o] of bundle.openings.entries()) {
    const holder = events.find((ev) => {
      const b = ev.event.body as { prompt?: { commitment: string }; negativePrompt?: { commitment: string } };
      return ev.event.type === 'generation' && (b.prompt?.commitment === o.commitment || b.negativePrompt?.commitment === o.commitment);
    });
    if (!holder) {
      fail(BundleCode.OPENING_UNUSED, `no included generation commits to ${o.commitment}`, `openings[${i}]`);
      continue;
    }
    try {
      await verifyOpening(o, o.commitment);
      const b = holder.event.body as { prompt?: { commitment: string } };
      openings.push({ event: holder.id, field: b.prompt?.commitment === o.commitment ? 'prompt' : 'negativePrompt', prompt: o.prompt });
    } catch (e) {
      fail(BundleCode.OPENING_MISMATCH, `the opening of generation ${holder.id.slice(0, 16)}…: ${(e as Error).message}`, `openings[${i}]`);
    }
  }

  // Step 8: the subject, and each file given, is named by an included event.
  const byHash = new Map<string, string[]>();
  for (const ev of events) for (const h of fileHashes(ev)) byHash.set(h, [...(byHash.get(h) ?? []), ev.id]);
  if ('event' in bundle.subject) {
    if (!checked.events.has(bundle.subject.event as EventId)) fail(BundleCode.SUBJECT_MISSING, `the subject event ${bundle.subject.event} is not among the valid included events`, 'subject.event');
  } else if (!byHash.has(bundle.subject.sha256)) {
    fail(BundleCode.SUBJECT_MISSING, `no included event names a file with SHA-256 ${bundle.subject.sha256}`, 'subject.sha256');
  } else if (bundle.subject.name !== undefined) {
    const { sha256, name } = bundle.subject;
    const named = events.some((ev) => fileRefs(ev).some((r) => r.sha256 === sha256 && r.name === name));
    if (!named) fail(BundleCode.SUBJECT_MISSING, `no included event names a file ${JSON.stringify(name)} with SHA-256 ${sha256}`, 'subject.name');
  }
  const given: BundleFacts['files'] = [];
  for (const f of files) {
    const evs = byHash.get(f.sha256);
    if (!evs) fail(BundleCode.FILE_MISMATCH, `${f.name} (sha256 ${f.sha256}) is not a file any included event names`, f.name);
    else given.push({ file: f.name, sha256: f.sha256, events: evs });
  }

  const facts: BundleFacts | undefined =
    checkpoint && genesis
      ? {
          ledger: ledgerId,
          ledgerName: (genesis.event.body as { ledgerName: string }).ledgerName,
          subject: bundle.subject,
          events,
          roster,
          checkpoint,
          logKey: bundle.logKey,
          logOwner,
          cosignatures,
          openings,
          files: given
        }
      : undefined;
  // Step 9 (ours): the report is exactly what this verifier states.
  if (facts && failures.length === 0) {
    const mine = describeFacts({ ...facts, files: [] }).join('\n') + '\n';
    if (bundle.report !== mine) fail(BundleCode.REPORT_DIFFERS, 'the report is not what the checked content states (edited, or written by another version)', 'report');
  }
  return { ok: failures.length === 0, failures, facts };
}

/** The FileRefs ({name, sha256, ...}) anywhere in an event body. */
function fileRefs(ev: LedgerEvent): Array<{ name: string; sha256: string }> {
  const out: Array<{ name: string; sha256: string }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.sha256 === 'string' && typeof o.name === 'string') out.push({ name: o.name, sha256: o.sha256 });
      Object.values(o).forEach(walk);
    }
  };
  walk(ev.event.body);
  return out;
}

function applyGenesis(roster: Roster, ev: LedgerEvent): void {
  const m = (ev.event.body as { member: { id: string; name: string; key: string } }).member;
  roster.set(m.key, { key: m.key, memberId: m.id, name: m.name, role: 'owner', active: true, since: ev.id });
}

export const byTimeId = (a: LedgerEvent, b: LedgerEvent) =>
  a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
