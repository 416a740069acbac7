/**
 * Schema validation of events and envelopes (ledger-schema/*.schema.json, draft 2020-12), with readable
 * problems. The validators are compiled at build time (scripts/build-validators.js) into plain code, so this
 * works under a CSP without 'unsafe-eval' and imports nothing from Ajv at run time.
 *
 * The input is attacker-controlled: a peer, a file, a bundle. Before running the schema we bound its size
 * (see guard()): with allErrors a ten-million-entry array would otherwise yield ten million error objects.
 */
import {
  validateEvent as compiledEvent,
  validateEnvelope as compiledEnvelope,
  validateGenerationBody,
  validatePolicySnapshotBody,
  validateChecklistBody,
  validateExportBody,
  validateDerivationBody,
  validateHandoffBody,
  validateDeletionBody,
  validateMemberBody,
  type GeneratedValidator,
  type GeneratedValidationError
} from './generated/validators.js';
import { EVENT_TYPES, isEventType, type EventType, type UnsignedEvent, type Envelope } from './types.ts';

export { EVENT_TYPES };

/** One thing wrong with a value: where (an RFC 6901 JSON pointer from the validated root) and what. */
export interface SchemaProblem {
  path: string;
  message: string;
}

const BODY_VALIDATORS: Record<EventType, GeneratedValidator> = {
  generation: validateGenerationBody,
  'policy-snapshot': validatePolicySnapshotBody,
  checklist: validateChecklistBody,
  export: validateExportBody,
  derivation: validateDerivationBody,
  handoff: validateHandoffBody,
  deletion: validateDeletionBody,
  member: validateMemberBody
};

/** Validates an unsigned event ({spec, type, ledger, author, time, parents, body}). Empty array: valid. */
export function validateEvent(e: unknown): SchemaProblem[] {
  return run(compiledEvent, e, 'the event');
}

/** Validates a signed envelope ({event, sig}); paths start at the envelope (`/event/body/...`). */
export function validateEnvelope(x: unknown): SchemaProblem[] {
  return run(compiledEnvelope, x, 'the envelope');
}

/**
 * Validates a body on its own (a form before the event is built). Paths start at the body (`/outputs/0`),
 * messages name it `body`.
 */
export function validateBody(type: EventType, body: unknown): SchemaProblem[] {
  if (!isEventType(type)) return [{ path: '', message: `unknown event type ${JSON.stringify(type)}` }];
  return run(BODY_VALIDATORS[type], body, 'body', 'body');
}

export function isValidEvent(e: unknown): e is UnsignedEvent {
  return validateEvent(e).length === 0;
}

export function isValidEnvelope(x: unknown): x is Envelope {
  return validateEnvelope(x).length === 0;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Bounds above anything a valid event can hold (the largest, a generation with 1000 inputs and 1000 outputs,
 * has about 16 000 values; no string may exceed 4000 code points, i.e. 8000 UTF-16 units; nesting is < 8),
 * so the guard rejects only values the schema would reject too.
 */
const MAX_VALUES = 100_000;
const MAX_STRING_UNITS = 65_536;
const MAX_DEPTH = 32;
/** Problems reported at most; the rest are counted in one final problem. */
const MAX_PROBLEMS = 100;

function guard(root: unknown, rootName: string): SchemaProblem | undefined {
  return withinBounds(root) ? undefined : boundsProblem(root, rootName);
}

/** The walk of boundsProblem without its paths (what every valid value takes): false where that finds a problem. */
function withinBounds(root: unknown): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  let count = 0;
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (++count > MAX_VALUES) return false;
    if (typeof v === 'string') {
      if (v.length > MAX_STRING_UNITS) return false;
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        if (v.length > MAX_VALUES) return false;
        for (let i = 0; i < v.length; i++) {
          values.push(v[i]);
          depths.push(depth + 1);
        }
      } else {
        const keys = Object.keys(v);
        if (keys.length > MAX_VALUES) return false;
        for (const k of keys) {
          values.push((v as Record<string, unknown>)[k]);
          depths.push(depth + 1);
        }
      }
    }
  }
  return true;
}

function boundsProblem(root: unknown, rootName: string): SchemaProblem | undefined {
  // Iterative walk: a hostile value may be nested deeper than the call stack.
  const stack: Array<[unknown, string, number]> = [[root, '', 0]];
  let count = 0;
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (++count > MAX_VALUES) {
      return { path: '', message: `${rootName} is too large: more than ${MAX_VALUES} values` };
    }
    if (typeof v === 'string') {
      if (v.length > MAX_STRING_UNITS) return { path, message: `${readablePath(path, rootName)} is far too long` };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_DEPTH) return { path, message: `${readablePath(path, rootName)} is nested too deeply` };
      if (Array.isArray(v)) {
        if (v.length > MAX_VALUES) return { path, message: `${readablePath(path, rootName)} has far too many items` };
        for (let i = 0; i < v.length; i++) stack.push([v[i], `${path}/${i}`, depth + 1]);
      } else {
        const keys = Object.keys(v);
        if (keys.length > MAX_VALUES)
          return { path, message: `${readablePath(path, rootName)} has far too many fields` };
        for (const k of keys) stack.push([(v as Record<string, unknown>)[k], `${path}/${escapePointer(k)}`, depth + 1]);
      }
    }
  }
  return undefined;
}

function run(validator: GeneratedValidator, value: unknown, rootName: string, prefix = ''): SchemaProblem[] {
  const tooBig = guard(value, rootName);
  if (tooBig) return [tooBig];
  if (validator(value)) return [];
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  for (const err of validator.errors ?? []) {
    const p = toProblem(err, rootName, prefix);
    if (!p) continue;
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else dropped++;
  }
  if (dropped > 0) problems.push({ path: '', message: `and ${dropped} more problems` });
  // A failing if/then/else alone never fails a value: there is always a concrete error beside it.
  return problems.length > 0 ? problems : [{ path: '', message: `${rootName} does not match its schema` }];
}

/** Readable descriptions of every `pattern` in ledger-schema/ (a test checks that none is missing). */
export const PATTERN_MESSAGES: Record<string, string> = {
  '^[0-9a-f]{64}$': 'must be 64 lowercase hex characters',
  '^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$':
    'must be an Ed25519 public key: 43 base64url characters, no padding, unused bits zero',
  '^[A-Za-z0-9_-]{85}[AQgw]$': 'must be an Ed25519 signature: 86 base64url characters, no padding, unused bits zero',
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$':
    'must be a UTC time with milliseconds, like 2026-11-29T14:00:00.000Z',
  '^[^\\x00-\\x1f\\x7f\\ud800-\\udfff]*$': 'must be a single line of text without control characters',
  '^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ud800-\\udfff]*$':
    'must be text without control characters other than tab and line breaks',
  '^https?://[^\\s]+$': 'must be an http:// or https:// URL without spaces',
  '^(?!\\.\\.?$)[^/\\\\\\x00-\\x1f\\x7f\\ud800-\\udfff]*$':
    'must be a bare file name: no "/" or "\\", no control characters, not "." or ".."',
  '^[a-z0-9]{1,16}$': 'must be 1 to 16 lowercase letters or digits, like "glb"',
  '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$':
    'must be a lowercase media type without parameters, like "model/gltf-binary"',
  '^[a-z][a-z0-9-]{0,31}$': 'must be a lowercase word of letters, digits and "-", like "texture"',
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$':
    'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  '^[A-Za-z0-9_.-]{1,64}$': 'must be 1 to 64 letters, digits, "_", "." or "-"'
};

const FORMAT_MESSAGES: Record<string, string> = {
  'date-time': 'must be a real calendar date and time',
  uri: 'must be a valid URL'
};

/** Why a field is forbidden where it appears (schemas say so with `false`). */
const FORBIDDEN: Record<string, string> = {
  ledger: 'must be absent in the genesis event (member, action "create"): its own id names the ledger',
  ledgerName: 'is only allowed when the action is "create"',
  confirmedAt: 'is only allowed when the status is "confirmed"'
};

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null'
};

function toProblem(err: GeneratedValidationError, rootName: string, prefix: string): SchemaProblem | undefined {
  const params = err.params ?? {};
  let path = err.instancePath;
  const at = () => readablePath(path, rootName, prefix);
  const n = (k: string) => Number(params[k]);
  if (err.propertyName !== undefined) {
    // An object key failed `propertyNames`: point at the key itself.
    path = `${path}/${escapePointer(err.propertyName)}`;
    const why = err.keyword === 'pattern' ? PATTERN_MESSAGES[String(params.pattern)] : err.message;
    return { path, message: `${at()} is not an allowed name: it ${why ?? 'is not valid'}` };
  }
  switch (err.keyword) {
    case 'if': // "must match then/else": the concrete errors come with it
      return undefined;
    case 'required':
    case 'dependentRequired': {
      const parent = readablePath(path, rootName, prefix);
      path = `${path}/${escapePointer(String(params.missingProperty))}`;
      return err.keyword === 'required'
        ? { path, message: `${at()} is required` }
        : { path, message: `${at()} is required when ${parent}.${String(params.property)} is present` };
    }
    case 'additionalProperties':
      path = `${path}/${escapePointer(String(params.additionalProperty))}`;
      return { path, message: `${at()} is not an allowed field` };
    case 'propertyNames': // a summary: the concrete error (with propertyName) comes with it
      return undefined;
    case 'false schema': {
      const field = decodeSegment(path.slice(path.lastIndexOf('/') + 1));
      return { path, message: `${at()} ${FORBIDDEN[field] ?? 'is not allowed here'}` };
    }
    case 'type': {
      const types = Array.isArray(params.type) ? params.type : [params.type];
      return { path, message: `${at()} must be ${types.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(' or ')}` };
    }
    case 'const':
      return { path, message: `${at()} must be ${JSON.stringify(params.allowedValue)}` };
    case 'enum': {
      const values = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      return { path, message: `${at()} must be one of ${values.join(', ')}` };
    }
    case 'pattern': {
      const msg = PATTERN_MESSAGES[String(params.pattern)] ?? `must match the pattern ${String(params.pattern)}`;
      return { path, message: `${at()} ${msg}` };
    }
    case 'format':
      return {
        path,
        message: `${at()} ${FORMAT_MESSAGES[String(params.format)] ?? `must be a valid ${String(params.format)}`}`
      };
    case 'minLength':
      return {
        path,
        message:
          n('limit') === 1 ? `${at()} must not be empty` : `${at()} must be at least ${n('limit')} characters long`
      };
    case 'maxLength':
      return { path, message: `${at()} must be at most ${n('limit')} characters long` };
    case 'minItems':
      return {
        path,
        message:
          n('limit') === 1 ? `${at()} must have at least one item` : `${at()} must have at least ${n('limit')} items`
      };
    case 'maxItems':
      return {
        path,
        message: n('limit') === 0 ? `${at()} must be empty` : `${at()} must have at most ${n('limit')} items`
      };
    case 'uniqueItems':
      return { path, message: `${at()} must not repeat a value (items ${n('j')} and ${n('i')} are the same)` };
    case 'minProperties':
      return {
        path,
        message: n('limit') === 1 ? `${at()} must not be empty` : `${at()} must have at least ${n('limit')} fields`
      };
    case 'maxProperties':
      return { path, message: `${at()} must have at most ${n('limit')} entries` };
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      const words: Record<string, string> = { '>=': 'at least', '>': 'more than', '<=': 'at most', '<': 'less than' };
      return {
        path,
        message: `${at()} must be ${words[String(params.comparison)] ?? String(params.comparison)} ${n('limit')}`
      };
    }
    default:
      return { path, message: `${at()} ${err.message ?? 'is not valid'}` };
  }
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function decodeSegment(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** "/body/outputs/0/sha256" -> "body.outputs[0].sha256"; the root itself is called rootName. */
export function readablePath(pointer: string, rootName: string, prefix = ''): string {
  if (pointer === '') return rootName;
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = decodeSegment(raw);
    if (/^(0|[1-9][0-9]*)$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg.length > 64 ? seg.slice(0, 64) + '…' : seg)}]`;
  }
  return out;
}
