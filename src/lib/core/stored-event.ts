/**
 * Stored events read lazily (ledger-schema/README.md section 12, "What opening reads"): opening a ledger reads
 * from each stored envelope only its frame (parents, time, type, sig) by position, and parses the whole event on
 * first access of `event`. verify() parses and checks every envelope whole.
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

/** Each event type's one string, so a frame keeps no copy of its own. */
const TYPES = new Map<string, string>(EVENT_TYPES.map((t) => [t, t]));

const HEAD_RE = /\{"event":\{"author":"[A-Za-z0-9_-]{43}","body":\{/y;
const LEDGER_RE = /,"ledger":"[0-9a-f]{64}"/y;
const TAIL_RE = new RegExp(
  String.raw`,"parents":\[((?:"[0-9a-f]{64}"(?:,"[0-9a-f]{64}")*)?)\],"spec":"` +
    EVENT_SPEC.replace(/[/.]/g, '\\$&') +
    String.raw`","time":"([^"\\\x00-\x1f]{24})","type":"([a-z-]{1,32})"\},"sig":"([A-Za-z0-9_-]{86})"\}$`,
  'y'
);
const PARENTS_KEY = ',"parents":[';

const SPEC_PART = `],"spec":"${EVENT_SPEC}","time":"`;

/**
 * Where `,"parents":[` would be in a canonical envelope, found from its end by the lengths of the values after it
 * (TAIL_RE checks them all); -1 when it cannot be there.
 */
function parentsAt(json: string): number {
  // ..."type":"Y"},"sig":"G"} with G of 86 characters and Y of at most 32.
  const typeEnd = json.length - 98;
  let i = typeEnd - 1;
  while (i > typeEnd - 34 && i > 0 && json.charCodeAt(i) !== 34) i--;
  // ..."time":"T","type":"Y" with T of 24 characters, after the spec, after the parents' "]".
  let p = i - 9 - 24 - SPEC_PART.length;
  if (p < 0 || json.charCodeAt(p) !== 93) return -1;
  // Each parent is `"<64 hex>"`, the first after "[", the others after ",".
  while (json.charCodeAt(p - 1) === 34) {
    p -= 66;
    if (p < 1 || json.charCodeAt(p - 1) === 91) break;
    if (json.charCodeAt(p - 1) !== 44) return -1;
    p -= 1;
  }
  return p - PARENTS_KEY.length;
}

/**
 * The frame of an envelope in its canonical form (RFC 8785: the event's keys sorted, then "sig"):
 * `{"event":{"author":A,"body":{…}[,"ledger":L],"parents":[P…],"spec":S,"time":T,"type":Y},"sig":G}`, every
 * value but the body of a fixed alphabet, read from both ends. Undefined when the text is not of that form.
 */
export function readFrame(json: string): (Frame & { sig: string }) | undefined {
  HEAD_RE.lastIndex = 0;
  if (!HEAD_RE.test(json)) return undefined;
  const bodyAt = HEAD_RE.lastIndex - 1;
  const at = parentsAt(json);
  if (at <= bodyAt) return undefined;
  TAIL_RE.lastIndex = at;
  const m = TAIL_RE.exec(json);
  const type = m && TYPES.get(m[3]);
  if (!type) return undefined;
  // "ledger" (absent from the genesis event); the body ends before it.
  LEDGER_RE.lastIndex = at - 76;
  const bodyEnd = at - 76 > bodyAt && LEDGER_RE.test(json) ? at - 76 : at;
  if (json.charCodeAt(bodyEnd - 1) !== 125 || bodyEnd - 1 <= bodyAt) return undefined;
  const list = m[1];
  const parents: string[] = [];
  for (let i = 0; i < list.length; i += 67) parents.push(list.slice(i + 1, i + 65));
  return { parents, time: m[2], type, sig: m[4] };
}

const EVENT_DESCRIPTOR: PropertyDescriptor = {
  get(this: StoredEvent) {
    return StoredEvent.parse(this);
  },
  set(this: StoredEvent, v: UnsignedEvent) {
    StoredEvent.set(this, v);
  },
  enumerable: true,
  configurable: true
};

/**
 * An event read from its stored envelope: the frame now, the whole event parsed on first access of `event`,
 * an own enumerable property (so spreading, JSON.stringify and structured clone see it).
 */
class StoredEvent {
  // Assigned in the constructor, in the order of an event's keys (id, event, sig).
  declare id: EventId;
  declare event: UnsignedEvent;
  declare sig: string;
  #json: string;
  #parents: string[];
  #time: string;
  #type: string;
  #event: UnsignedEvent | undefined;

  constructor(id: EventId, json: string, frame: Frame & { sig: string }) {
    this.id = id;
    Object.defineProperty(this, 'event', EVENT_DESCRIPTOR);
    this.sig = frame.sig;
    this.#json = json;
    this.#parents = frame.parents;
    this.#time = frame.time;
    this.#type = frame.type;
  }

  static parse(ev: StoredEvent): UnsignedEvent {
    return (ev.#event ??= parseFramed(ev.id, ev.#json, StoredEvent.frame(ev)!, ev.sig));
  }

  static set(ev: StoredEvent, v: UnsignedEvent): void {
    ev.#event = v;
  }

  /** The frame of an event read lazily; undefined for any other. */
  static frame(ev: LedgerEvent): Frame | undefined {
    return #json in ev ? { parents: ev.#parents, time: ev.#time, type: ev.#type } : undefined;
  }

  static parents(ev: LedgerEvent): readonly string[] {
    return #json in ev ? ev.#parents : ev.event.parents;
  }

  static time(ev: LedgerEvent): string {
    return #json in ev ? ev.#time : ev.event.time;
  }

  static type(ev: LedgerEvent): string {
    return #json in ev ? ev.#type : ev.event.type;
  }
}

/** An event read lazily from its stored envelope; undefined when the envelope has no canonical frame. */
export function lazyEvent(id: EventId, json: string): LedgerEvent | undefined {
  const frame = readFrame(json);
  return frame && new StoredEvent(id, json, frame);
}

/** The whole event of a framed envelope; STORAGE_CORRUPT when it is not the JSON its frame showed. */
function parseFramed(id: string, json: string, frame: Frame, sig: string): UnsignedEvent {
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
    env!.sig !== sig ||
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
export const parentsOf = (ev: LedgerEvent): readonly string[] => StoredEvent.parents(ev);
export const timeOf = (ev: LedgerEvent): string => StoredEvent.time(ev);
export const typeOf = (ev: LedgerEvent): string => StoredEvent.type(ev);
