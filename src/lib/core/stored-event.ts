/**
 * Stored events read lazily (ledger-schema/README.md section 11, "Opening"): opening a ledger reads from each
 * stored envelope only its frame (parents, time, type, sig) by position, and parses the whole event on first
 * access of `event`. verify() parses and checks every envelope whole.
 */
import { EVENT_SPEC, type EventId, type LedgerEvent } from './event.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import { EVENT_TYPES, type UnsignedEvent } from './types.ts';

/** What opening needs of an event: read from the envelope's frame, or from the parsed event. */
interface Frame {
  parents: string[];
  time: string;
  type: string;
}

const frames = new WeakMap<LedgerEvent, Frame>();
const TYPES = new Set<string>(EVENT_TYPES);

/** True when s[from, from + 64) are lowercase hex digits. */
export function isHex64(s: string, from = 0): boolean {
  if (s.length < from + 64) return false;
  for (let i = from; i < from + 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** True when s[from, to) are base64url characters. */
function isB64u(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95)) return false;
  }
  return true;
}

/** True when s[from, to) holds only characters a JSON string carries unescaped and verbatim (no quote, backslash or control). */
function isPlain(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92) return false;
  }
  return true;
}

const HEAD = '{"event":{"author":"';
const AUTHOR_LEN = 43;
const BODY_KEY = '","body":';
const BODY_AT = HEAD.length + AUTHOR_LEN + BODY_KEY.length;
const SIG_KEY = '},"sig":"';
const TYPE_KEY = '","type":"';
const TIME_KEY = '","time":"';
const TIME_LEN = 24;
const SPEC_TAIL = `,"spec":"${EVENT_SPEC}`;
const PARENTS_KEY = ',"parents":[';
const LEDGER_KEY = ',"ledger":"';

/**
 * The frame of an envelope in its canonical form (RFC 8785: the event's keys sorted, then "sig"):
 * `{"event":{"author":A,"body":{…}[,"ledger":L],"parents":[P…],"spec":S,"time":T,"type":Y},"sig":G}`, every
 * value but the body of a fixed alphabet read from the ends inward. Undefined when the text is not of that form.
 */
export function readFrame(json: string): (Frame & { sig: string }) | undefined {
  const n = json.length;
  if (!json.startsWith(HEAD) || json.charCodeAt(n - 1) !== 125 || json.charCodeAt(n - 2) !== 34) return undefined;
  if (!isB64u(json, HEAD.length, HEAD.length + AUTHOR_LEN) || !json.startsWith(BODY_KEY, HEAD.length + AUTHOR_LEN))
    return undefined;
  if (json.charCodeAt(BODY_AT) !== 123) return undefined;
  // "sig": an Ed25519 signature, base64url.
  const sigAt = n - 2 - 86;
  if (sigAt < BODY_AT || !json.startsWith(SIG_KEY, sigAt - SIG_KEY.length) || !isB64u(json, sigAt, n - 2))
    return undefined;
  // "type": one of the event types.
  const typeEnd = sigAt - SIG_KEY.length - 1;
  if (json.charCodeAt(typeEnd) !== 34) return undefined;
  const typeKey = json.lastIndexOf(TYPE_KEY, typeEnd);
  if (typeKey < BODY_AT) return undefined;
  const type = json.slice(typeKey + TYPE_KEY.length, typeEnd);
  if (!TYPES.has(type)) return undefined;
  // "time": 24 characters.
  const timeAt = typeKey - TIME_LEN;
  if (timeAt < BODY_AT || !json.startsWith(TIME_KEY, timeAt - TIME_KEY.length) || !isPlain(json, timeAt, typeKey))
    return undefined;
  // "spec": this version's.
  const specAt = timeAt - TIME_KEY.length - SPEC_TAIL.length;
  if (specAt < BODY_AT || !json.startsWith(SPEC_TAIL, specAt) || json.charCodeAt(specAt - 1) !== 93) return undefined;
  // "parents": event ids, each `"<64 hex>"`, separated by commas.
  const open = json.lastIndexOf(PARENTS_KEY, specAt);
  if (open < BODY_AT) return undefined;
  const from = open + PARENTS_KEY.length;
  const to = specAt - 1;
  const parents: string[] = [];
  if (to > from) {
    if ((to - from + 1) % 67 !== 0) return undefined;
    for (let i = from; i < to; i += 67) {
      if (json.charCodeAt(i) !== 34 || json.charCodeAt(i + 65) !== 34 || !isHex64(json, i + 1)) return undefined;
      if (i + 66 < to && json.charCodeAt(i + 66) !== 44) return undefined;
      parents.push(json.slice(i + 1, i + 65));
    }
  } else if (to !== from) return undefined;
  // "ledger" (absent from the genesis event): 64 hex digits; the body ends before it.
  let bodyEnd = open;
  const ledgerAt = open - LEDGER_KEY.length - 65;
  if (ledgerAt > BODY_AT && json.startsWith(LEDGER_KEY, ledgerAt) && json.charCodeAt(open - 1) === 34) {
    if (!isHex64(json, ledgerAt + LEDGER_KEY.length)) return undefined;
    bodyEnd = ledgerAt;
  }
  if (json.charCodeAt(bodyEnd - 1) !== 125) return undefined;
  return { parents, time: json.slice(timeAt, typeKey), type, sig: json.slice(sigAt, n - 2) };
}

/**
 * An event read from its stored envelope: the frame now, the whole event parsed on first access of `event`.
 * `event` is an own enumerable property, so spreading, JSON.stringify and structured clone see it.
 * Undefined when the envelope has no canonical frame (the caller parses it whole).
 */
export function lazyEvent(id: EventId, json: string): LedgerEvent | undefined {
  const frame = readFrame(json);
  if (!frame) return undefined;
  let event: UnsignedEvent | undefined;
  const ev: LedgerEvent = {
    id,
    get event(): UnsignedEvent {
      return (event ??= parseFramed(id, json, frame));
    },
    set event(v: UnsignedEvent) {
      event = v;
    },
    sig: frame.sig
  };
  frames.set(ev, frame);
  return ev;
}

/** The whole event of a framed envelope; STORAGE_CORRUPT when it is not the JSON its frame showed. */
function parseFramed(id: string, json: string, frame: Frame & { sig: string }): UnsignedEvent {
  let env: { event?: UnsignedEvent; sig?: unknown } | undefined;
  try {
    env = JSON.parse(json);
  } catch {
    env = undefined;
  }
  const e = env?.event;
  if (
    !e ||
    typeof e !== 'object' ||
    env!.sig !== frame.sig ||
    e.time !== frame.time ||
    e.type !== frame.type ||
    !Array.isArray(e.parents) ||
    e.parents.length !== frame.parents.length ||
    e.parents.some((p, i) => p !== frame.parents[i])
  ) {
    throw new LedgerError(
      ErrorCode.STORAGE_CORRUPT,
      `the stored event ${id} is damaged: its envelope is not the JSON it begins and ends as (provenance-ledger verify reports it)`,
      { eventId: id }
    );
  }
  return e;
}

/** An event's parents, time and type, without parsing a lazily read event. */
export const parentsOf = (ev: LedgerEvent): readonly string[] => frames.get(ev)?.parents ?? ev.event.parents;
export const timeOf = (ev: LedgerEvent): string => frames.get(ev)?.time ?? ev.event.time;
export const typeOf = (ev: LedgerEvent): string => frames.get(ev)?.type ?? ev.event.type;
