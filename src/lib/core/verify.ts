/**
 * Verification of stored or received events: each envelope on its own (bytes, schema, id, signature, ledger),
 * then the ledger as a whole (parents present, genesis, authors in the roster of each event's past).
 * Every problem carries a stable code, the event id and where it was found.
 */
import { ErrorCode } from './errors.ts';
import {
  checkIdAndSignature,
  isEventId,
  parseEnvelope,
  type EnvelopeProblem,
  type EventId,
  type LedgerEvent,
  type SignedEnvelope
} from './event.ts';
import { utf8 } from './bytes.ts';
import { validateEvent } from './validate.ts';
import { decideAcceptance, isGenesis, type Acceptance } from './roster.ts';
import type { UnsignedEvent } from './types.ts';
import type { Covered } from './proofs/signed-head.ts';
import type { RecordSubject } from './verified-record.ts';

export interface Problem {
  code: ErrorCode;
  message: string;
  eventId?: string;
  /** Where the problem is: a storage key, "event <id>", or a field path inside the event. */
  location?: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Entries examined. */
  checked: number;
  /** Events that count. */
  valid: number;
  ledgerId?: string;
  problems: Problem[];
  /**
   * How the event signatures were established: `full` checked every one; `signed-heads` took those a checked
   * signed tree head of their author's log covers from it (`covered` events, the checkpoint of size `headSize`)
   * and checked the rest one by one.
   */
  signatures?: { mode: 'full' | 'signed-heads'; covered: number; headSize?: number };
  /**
   * Set when this device's verified record (verified-record.ts) vouched for the canonical form, schema and id of
   * `pinned` events, those under its checkpoint of size `headSize` (whose root pins their bytes), checked in full
   * by this device at `checked`; every other check ran.
   */
  record?: { pinned: number; headSize: number; checked: string };
  /** After a sound default verify without a record: what a record of it is about (writeVerifiedRecord). */
  recordable?: RecordSubject;
}

export interface CheckedEntries {
  /** Entries that passed every per-event check. */
  events: Map<EventId, LedgerEvent>;
  problems: Problem[];
  genesisId?: EventId;
  /** Ids whose event signature a signed tree head covered (not checked again). */
  covered?: Set<string>;
  /** Events whose form, schema and id a verified record vouched for (`pinned`). */
  pinned?: number;
}

export interface CheckOptions {
  /**
   * Events a checked signed tree head covers (proofs/signed-head.ts): an entry whose stored JSON is exactly the
   * covered bytes and whose author is the head's signer needs no Ed25519 check of its own. Every other check runs.
   */
  covered?: Covered;
  /**
   * Entries the caller parsed already (parseLoose), by key: the string and its JSON.parse value. An entry whose
   * string is exactly that one is not parsed again; every check still runs on the value.
   */
  parsed?: Map<string, { json: string; value: unknown }>;
  /**
   * Filled with each envelope parsed here (by id: the JSON text and its value), for another check over the same
   * entries (the journal's) to take instead of parsing that text again.
   */
  keep?: ParsedEnvelopes;
  /**
   * Envelopes whose canonical form, schema and id this device's verified record vouches for (verified-record.ts):
   * an entry stored under one of these ids with exactly these bytes is parsed, not checked again. Its signature
   * is checked as any other's (skipped only when `covered`).
   */
  pinned?: Map<string, string>;
}

/** Envelopes by id: the JSON text parsed and the value it gave (never changed by a check). */
export type ParsedEnvelopes = Map<string, { json: string; envelope: SignedEnvelope }>;

const SIG_BATCH = 512;
const NONE: EnvelopeProblem[] = [];

const PINNED_AUTHOR = /^\{"event":\{"author":"([A-Za-z0-9_-]{43})","body":\{/;
const PINNED_LEDGER = /^,"ledger":"([0-9a-f]{64})"$/;

/**
 * A pinned envelope (its bytes exactly those that passed every per-event check: canonical JSON, the schema), read
 * without parsing its event's body: the event's members come sorted (author, body, ledger except in the genesis,
 * parents, spec, time, type) and the body is an object, so the last `,"parents":[` is the event's own (nothing
 * after it can hold that text: ids, a constant, a time, a type, then the signature), and the ledger id, when
 * present, ends just before it. The body is parsed when first read. Undefined when the bytes do not read so.
 */
export function pinnedEnvelope(json: string): SignedEnvelope | undefined {
  const author = PINNED_AUTHOR.exec(json)?.[1];
  const at = json.lastIndexOf(',"parents":[');
  const sigAt = json.lastIndexOf('},"sig":"');
  if (author === undefined || at < 0 || sigAt < at || json.charCodeAt(json.length - 2) !== 0x22) return undefined;
  try {
    const rest = JSON.parse(`{${json.slice(at + 1, sigAt)},"sig":${json.slice(sigAt + 8, -1)}}`) as PinnedRest;
    if (typeof rest.sig !== 'string') return undefined;
    const ledger = PINNED_LEDGER.exec(json.slice(at - 76, at))?.[1];
    let body: unknown;
    const event = {
      author,
      ledger,
      parents: rest.parents,
      spec: rest.spec,
      time: rest.time,
      type: rest.type,
      get body() {
        return (body ??= (JSON.parse(json) as SignedEnvelope).event.body);
      }
    };
    if (ledger === undefined) delete (event as { ledger?: string }).ledger;
    return { event: event as unknown as SignedEnvelope['event'], sig: rest.sig };
  } catch {
    return undefined;
  }
}

type PinnedRest = { parents: unknown; spec: unknown; time: unknown; type: unknown; sig: unknown };

function parsedValue(parsed: CheckOptions['parsed'], key: string, json: string): unknown {
  const p = parsed?.get(key);
  return p !== undefined && p.json === json ? p.value : undefined;
}

/**
 * Per-event checks over raw entries (key = the id the entry is stored or announced under, value = the
 * envelope's canonical JSON). `ledgerId`, when known, is the ledger the entries must belong to.
 */
export async function checkEntries(
  entries: Iterable<[string, string]>,
  ledgerId?: string,
  opts: CheckOptions = {}
): Promise<CheckedEntries> {
  const problems: Problem[] = [];
  const parsed: Array<{ key: string; ev: LedgerEvent; eventBytes?: Uint8Array; covered: boolean; pinned?: boolean }> =
    [];
  // One id, one content: a second copy with other bytes is refused, and so is the id (which copy would count?).
  const seen = new Map<string, string>();
  const conflicting = new Set<string>();
  for (const [key, json] of entries) {
    const prior = seen.get(key);
    if (prior !== undefined) {
      if (prior !== json && !conflicting.has(key)) {
        conflicting.add(key);
        problems.push({
          code: ErrorCode.DUPLICATE,
          message: 'two different contents under one event id',
          eventId: key,
          location: `event ${key}`
        });
      }
      continue;
    }
    seen.set(key, json);
    // Pinned: the key is one of the log's leaf ids (64 hex digits by construction) and the bytes are as checked.
    if (opts.pinned !== undefined && opts.pinned.get(key) === json) {
      const head = opts.covered?.get(key);
      // Covered, its own signature not checked again: the body is read only if a later check asks for it.
      const env =
        (head !== undefined && head.json === json && pinnedEnvelope(json)) || (JSON.parse(json) as SignedEnvelope);
      const covered = head !== undefined && head.json === json && env.event.author === head.key;
      parsed.push({
        key,
        ev: { id: key as EventId, event: env.event as UnsignedEvent, sig: env.sig },
        covered,
        pinned: true
      });
      continue;
    }
    const where = `event ${key}`;
    if (!isEventId(key)) {
      problems.push({
        code: ErrorCode.MALFORMED,
        message: `stored under a key that is not an event id`,
        eventId: key,
        location: where
      });
      continue;
    }
    const { envelope, problem, eventBytes } = parseEnvelope(utf8(json), json, parsedValue(opts.parsed, key, json));
    if (problem) problems.push({ ...problem, eventId: key, location: where });
    if (!envelope || problem) continue;
    opts.keep?.set(key, { json, envelope });
    const schema = validateEvent(envelope.event);
    if (schema.length > 0) {
      for (const s of schema) {
        problems.push({ code: ErrorCode.SCHEMA, message: s.message, eventId: key, location: `${where} ${s.path}` });
      }
      continue;
    }
    // Covered: these very bytes are a leaf of the signed tree head of this event's author (the head's signer).
    const head = opts.covered?.get(key);
    const covered = head !== undefined && head.json === json && envelope.event.author === head.key;
    parsed.push({
      key,
      ev: { id: key as EventId, event: envelope.event as UnsignedEvent, sig: envelope.sig },
      eventBytes,
      covered
    });
  }

  const good = new Map<EventId, LedgerEvent>();
  const coveredIds = new Set<string>();
  let pinnedCount = 0;
  const unique = parsed.filter(({ key }) => !conflicting.has(key));
  for (let i = 0; i < unique.length; i += SIG_BATCH) {
    const batch = unique.slice(i, i + SIG_BATCH);
    // Pinned and covered: the id and the signature's form are functions of the pinned bytes, the signature the
    // head's; nothing is left to check of this event by itself (and nothing to wait for).
    const pending = batch.map(({ key, ev, eventBytes, covered, pinned }) =>
      pinned && covered ? NONE : checkIdAndSignature({ event: ev.event, sig: ev.sig }, key, eventBytes, covered)
    );
    const results = pending.every((r) => r === NONE) ? (pending as EnvelopeProblem[][]) : await Promise.all(pending);
    batch.forEach(({ key, ev, covered, pinned }, j) => {
      if (results[j].length > 0) {
        for (const p of results[j]) problems.push({ ...p, eventId: key, location: `event ${key}` });
      } else {
        good.set(ev.id, ev);
        if (covered) coveredIds.add(key);
        if (pinned) pinnedCount++;
      }
    });
  }

  // The genesis: the one event that creates the ledger. Its id is the ledger id.
  let genesisId = ledgerId as EventId | undefined;
  if (!genesisId) {
    const geneses = [...good.values()].filter(isGenesis);
    if (geneses.length === 1) genesisId = geneses[0].id;
    else if (geneses.length > 1) {
      problems.push({
        code: ErrorCode.GENESIS,
        message: `${geneses.length} genesis events: cannot tell which ledger this is`
      });
    }
  }
  for (const [id, ev] of good) {
    const belongs = isGenesis(ev) ? id === genesisId : ev.event.ledger === genesisId;
    if (!belongs) {
      problems.push({
        code: ErrorCode.WRONG_LEDGER,
        message: isGenesis(ev)
          ? 'the genesis event of another ledger'
          : `belongs to ledger ${String(ev.event.ledger).slice(0, 16)}…, not to this one`,
        eventId: id,
        location: `event ${id}`
      });
      good.delete(id);
    }
  }
  return { events: good, problems, genesisId, covered: coveredIds, pinned: pinnedCount };
}

/** Whole-ledger verification over raw entries. `knownIds` are ids present in storage (valid or not). */
export async function verifyEntries(
  entries: Array<[string, string]>,
  ledgerId?: string,
  opts: CheckOptions = {}
): Promise<VerifyReport & { acceptance: Acceptance; covered: Set<string>; pinned: number }> {
  const { events, problems, genesisId, covered, pinned } = await checkEntries(entries, ledgerId, opts);
  const stored = new Set(entries.map(([k]) => k));
  if (!genesisId || !stored.has(genesisId)) {
    problems.push({
      code: ErrorCode.GENESIS,
      message: 'the genesis event that creates this ledger is missing or invalid',
      eventId: genesisId
    });
  }
  for (const [id, ev] of events) {
    for (const p of ev.event.parents) {
      if (!stored.has(p)) {
        problems.push({
          code: ErrorCode.MISSING_PARENT,
          message: `names parent ${p}, which this ledger does not hold`,
          eventId: id,
          location: `event ${id} /parents`
        });
      }
    }
  }
  const acceptance = decideAcceptance(events, genesisId);
  for (const r of acceptance.rejected)
    problems.push({ code: r.code, message: r.message, eventId: r.id, location: `event ${r.id}` });
  return {
    ok: problems.length === 0,
    checked: entries.length,
    valid: acceptance.accepted.size,
    ledgerId: genesisId,
    problems,
    acceptance,
    covered: covered ?? new Set(),
    pinned: pinned ?? 0
  };
}
