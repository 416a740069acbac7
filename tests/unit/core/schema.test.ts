import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import {
  validateBody,
  validateEnvelope,
  validateEvent,
  isValidEvent,
  readablePath,
  PATTERN_MESSAGES,
  EVENT_TYPES
} from '../../../src/lib/core/validate.ts';
import * as T from '../../../src/lib/core/types.ts';
import { buildValidatorsDeclarations, buildValidatorsSource, OUTPUT } from '../../../scripts/build-validators.js';

const SCHEMA_DIR = new URL('../../../ledger-schema/', import.meta.url);
const VALID = new URL('examples/valid/', SCHEMA_DIR);
const INVALID = new URL('examples/invalid/', SCHEMA_DIR);

const readJson = (u: URL) => JSON.parse(readFileSync(u, 'utf8'));
const jsonFiles = (dir: URL) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
const schemas: Record<string, any> = Object.fromEntries(
  readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith('.schema.json'))
    .map((f) => [f, readJson(new URL(f, SCHEMA_DIR))])
);
const SIG = 'A'.repeat(85) + 'w';

/** Rows of examples/invalid/README.md: file, expected JSON pointer. */
function invalidTable(): Array<{ file: string; path: string }> {
  const md = readFileSync(new URL('README.md', INVALID), 'utf8');
  return [...md.matchAll(/^\| `([^`]+\.json)` \| `([^`]*)` \|/gm)].map((m) => ({ file: m[1], path: m[2] }));
}

/** Every subschema, with the keyword path that led to it. */
function* walk(s: unknown, at: string[] = []): Generator<[any, string[]]> {
  if (typeof s !== 'object' || s === null) return;
  yield [s, at];
  const o = s as Record<string, unknown>;
  for (const k of ['items', 'additionalProperties', 'propertyNames', 'if', 'then', 'else', 'not']) {
    if (o[k] !== undefined) yield* walk(o[k], [...at, k]);
  }
  for (const k of ['properties', '$defs']) {
    for (const [name, sub] of Object.entries((o[k] as object) ?? {})) yield* walk(sub, [...at, k, name]);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    for (const [i, sub] of ((o[k] as unknown[]) ?? []).entries()) yield* walk(sub, [...at, k, String(i)]);
  }
}

describe('valid examples', () => {
  const files = jsonFiles(VALID);

  it('has at least two per event type', () => {
    for (const t of EVENT_TYPES) expect(files.filter((f) => f.startsWith(`${t}-`)).length, t).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('%s is valid, alone and in an envelope', (f) => {
    const e = readJson(new URL(f, VALID));
    expect(f.startsWith(`${e.type}-`)).toBe(true);
    expect(validateEvent(e)).toEqual([]);
    expect(isValidEvent(e)).toBe(true);
    expect(validateEnvelope({ event: e, sig: SIG })).toEqual([]);
    expect(validateBody(e.type, e.body)).toEqual([]);
  });

  it('includes a glTF output set: .gltf + .bin + textures sharing one set label', () => {
    const e = readJson(new URL('generation-gltf-set.json', VALID));
    const set = e.body.outputs.filter((o: T.FileRef) => o.set === 'robot.gltf').map((o: T.FileRef) => o.format);
    expect(set).toEqual(expect.arrayContaining(['gltf', 'bin', 'png']));
  });

  it('ids in examples/valid/README.md are SHA-256 of the JCS bytes (known answers for README section 4)', () => {
    const md = readFileSync(new URL('README.md', VALID), 'utf8');
    const rows = [...md.matchAll(/^\| \d+ \| `([^`]+)` \| \w+ \| `([0-9a-f]{64})` \|$/gm)];
    expect(rows.length).toBe(files.length);
    const ids = new Set<string>();
    for (const [, file, id] of rows) {
      const e = readJson(new URL(file, VALID));
      expect(createHash('sha256').update(canonicalize(e)!, 'utf8').digest('hex'), file).toBe(id);
      // Every id an example cites is an earlier example: one consistent ledger.
      for (const p of e.parents) expect(ids.has(p), `${file} parent ${p}`).toBe(true);
      if (e.ledger) expect(e.ledger).toBe(rows[0][2]);
      ids.add(id);
    }
  });
});

describe('invalid examples', () => {
  const table = invalidTable();
  const files = jsonFiles(INVALID);

  it('are all listed in examples/invalid/README.md, at least three per event type', () => {
    expect(table.map((r) => r.file).sort()).toEqual(files);
    for (const t of EVENT_TYPES) expect(files.filter((f) => f.startsWith(`${t}-`)).length, t).toBeGreaterThanOrEqual(3);
  });

  it.each(table)('$file fails at $path', ({ file, path }) => {
    const e = readJson(new URL(file, INVALID));
    const problems = validateEvent(e);
    expect(problems.length).toBeGreaterThan(0);
    // One defect per file: every problem names the documented path.
    expect(problems.map((p) => p.path)).toEqual(problems.map(() => path));
    const shown = readablePath(path, 'the event');
    for (const p of problems) expect(p.message.startsWith(shown), p.message).toBe(true);
    expect(validateEnvelope({ event: e, sig: SIG }).map((p) => p.path)).toContain(`/event${path}`);
  });
});

describe('problems are readable', () => {
  const gen = () => readJson(new URL('generation-gltf-set.json', VALID));

  it('names the field in dotted form and says what is expected', () => {
    const e = gen();
    e.body.outputs[0].sha256 = 'ABC';
    expect(validateEvent(e)).toEqual([
      { path: '/body/outputs/0/sha256', message: 'body.outputs[0].sha256 must be 64 lowercase hex characters' }
    ]);
    e.body.outputs[0].sha256 = gen().body.outputs[0].sha256;
    e.body.mode = 'sketch-to-3d';
    delete e.body.project;
    e.body.settings.extra['bad key'] = 1;
    const problems = validateEvent(e);
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        {
          path: '/body/mode',
          message: expect.stringMatching(/^body\.mode must be one of "text-to-3d", "image-to-3d", /)
        },
        { path: '/body/project', message: 'body.project is required' },
        {
          path: '/body/settings/extra/bad key',
          message:
            'body.settings.extra["bad key"] is not an allowed name: it must be 1 to 64 letters, digits, "_", "." or "-"'
        }
      ])
    );
  });

  it('explains fields that are forbidden in context', () => {
    const g = readJson(new URL('member-create.json', VALID));
    g.ledger = '0'.repeat(64);
    expect(validateEvent(g)).toEqual([
      { path: '/ledger', message: expect.stringMatching(/^ledger must be absent in the genesis event/) }
    ]);
  });

  it('validates a body on its own with paths relative to the body', () => {
    const body = gen().body;
    body.outputs = [];
    expect(validateBody('generation', body)).toEqual([
      { path: '/outputs', message: 'body.outputs must have at least one item' }
    ]);
    expect(validateBody('nope' as T.EventType, {})[0].message).toMatch(/unknown event type/);
  });

  it('rejects an envelope with a non-canonical or missing signature, or extra members', () => {
    const event = gen();
    expect(validateEnvelope({ event, sig: 'A'.repeat(85) + 'B' })).toEqual([
      { path: '/sig', message: expect.stringMatching(/^sig must be an Ed25519 signature/) }
    ]);
    expect(validateEnvelope({ event }).map((p) => p.path)).toEqual(['/sig']);
    expect(validateEnvelope({ event, sig: SIG, id: 'x' }).map((p) => p.path)).toEqual(['/id']);
  });
});

describe('hostile input', () => {
  const valid = () => readJson(new URL('handoff-client.json', VALID));

  it.each([null, 42, 'event', [], true, undefined])('rejects %p as an event', (x) => {
    const problems = validateEvent(x);
    expect(problems).toEqual([{ path: '', message: 'the event must be an object' }]);
  });

  it('rejects an unknown field at every level of every valid example', () => {
    for (const f of jsonFiles(VALID)) {
      const e = readJson(new URL(f, VALID));
      const objects: Array<[any, string]> = [];
      (function collect(v: any, p: string) {
        if (v && typeof v === 'object') {
          if (!Array.isArray(v) && p !== '/body/settings/extra') objects.push([v, p]);
          for (const [k, c] of Object.entries(v)) collect(c, `${p}/${k}`);
        }
      })(e, '');
      for (const [o, p] of objects) {
        o.__proto__evil = 1;
        expect(
          validateEvent(e).map((x) => x.path),
          `${f} ${p}`
        ).toEqual([`${p}/__proto__evil`]);
        delete o.__proto__evil;
      }
    }
  });

  it('rejects a JSON "__proto__" member as an unknown field', () => {
    const e = JSON.parse(
      JSON.stringify(valid()).replace('"recipient":{', '"recipient":{"__proto__":{"isAdmin":true},')
    );
    expect(validateEvent(e).map((p) => p.path)).toEqual(['/body/recipient/__proto__']);
  });

  it('rejects unpaired surrogates and control characters in text', () => {
    const e = valid();
    e.body.notes = 'ok \ud800 not ok';
    expect(validateEvent(e).map((p) => p.path)).toEqual(['/body/notes']);
    e.body.notes = 'tabs\tand\nnew lines are fine, emoji too 🤖';
    expect(validateEvent(e)).toEqual([]);
    e.body.recipient.name = 'Julie\nBernard';
    expect(validateEvent(e).map((p) => p.path)).toEqual(['/body/recipient/name']);
  });

  it('counts string length in code points, as JSON Schema does', () => {
    const e = valid();
    e.body.recipient.name = '🤖'.repeat(256);
    expect(validateEvent(e)).toEqual([]);
    e.body.recipient.name = '🤖'.repeat(257);
    expect(validateEvent(e)[0].message).toBe('body.recipient.name must be at most 256 characters long');
  });

  it('refuses oversized values quickly instead of listing millions of errors', () => {
    const e = valid();
    e.parents = new Array(2_000_000).fill('x');
    const t0 = performance.now();
    expect(validateEvent(e)).toEqual([{ path: '/parents', message: 'parents has far too many items' }]);
    expect(performance.now() - t0).toBeLessThan(2000);
    e.parents = [e.ledger];
    e.body.files = Array.from({ length: 60_000 }, () => ({ name: 'a' }));
    expect(validateEvent(e)).toEqual([{ path: '', message: 'the event is too large: more than 100000 values' }]);
    const deep: any = {};
    let d = deep;
    for (let i = 0; i < 100_000; i++) d = d.x = {};
    expect(validateEvent({ ...valid(), body: deep })[0].message).toMatch(/nested too deeply/);
    expect(validateEvent({ ...valid(), time: 'x'.repeat(1_000_000) })).toEqual([
      { path: '/time', message: 'time is far too long' }
    ]);
  });

  it('names the place of an oversized value deep inside, keys escaped as JSON pointers', () => {
    const e = valid();
    e.body.files = [{ name: 'a' }, { name: 'b', 'odd/key~': ['ok', 'x'.repeat(70_000)] }];
    expect(validateEvent(e)).toEqual([
      { path: '/body/files/1/odd~1key~0/1', message: 'body.files[1]["odd/key~"][1] is far too long' }
    ]);
    const deep: any = {};
    let d = deep;
    for (let i = 0; i < 40; i++) {
      const next = {};
      d[i % 2 ? 'a' : 'b/'] = i % 3 ? next : [next];
      d = next;
    }
    const found = validateEvent({ ...valid(), body: { nest: deep } });
    expect(found).toHaveLength(1);
    expect(found[0].message).toMatch(/is nested too deeply$/);
    expect(found[0].path).toMatch(/^\/body\/nest\/b~1\//);
  });

  it('caps the number of problems reported', () => {
    const e = valid();
    e.body.files = Array.from({ length: 1000 }, () => ({ name: '/', format: 'X', size: -1, sha256: 'z' }));
    const problems = validateEvent(e);
    expect(problems.length).toBe(101);
    expect(problems[100].message).toMatch(/^and \d+ more problems$/);
  });

  it('limits arrays: 1000 files, 64 parents, parents without duplicates', () => {
    const e = valid();
    const f = e.body.files[0];
    e.body.files = new Array(1001).fill(f);
    expect(validateEvent(e).map((p) => p.message)).toEqual(['body.files must have at most 1000 items']);
    e.body.files = [f];
    e.parents = Array.from({ length: 65 }, (_, i) => i.toString(16).padStart(64, '0'));
    expect(validateEvent(e).map((p) => p.message)).toEqual(['parents must have at most 64 items']);
    e.parents = [e.ledger, e.ledger];
    expect(validateEvent(e).map((p) => p.path)).toEqual(['/parents']);
  });
});

describe('the schemas', () => {
  it('are draft 2020-12 with $id = base + file name', () => {
    for (const [f, s] of Object.entries(schemas)) {
      expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.$id).toBe(`https://provenance-ledger.example/schema/v1/${f}`);
    }
    for (const t of EVENT_TYPES) expect(schemas[`${t}.schema.json`], t).toBeDefined();
  });

  it('close every object and bound every string and array', () => {
    for (const [f, s] of Object.entries(schemas)) {
      for (const [sub, at] of walk(s)) {
        const where = `${f} ${at.join('/')}`;
        if (at.some((k) => k === 'if' || k === 'then' || k === 'else' || k === 'not')) continue; // refinements
        if (sub.type === 'object' && !(f === 'event.schema.json' && at.join('/') === 'properties/body')) {
          expect(sub.additionalProperties === false || typeof sub.additionalProperties === 'object', where).toBe(true);
        }
        const types = [sub.type].flat();
        if (types.includes('string') && !sub.$ref && !sub.enum && sub.const === undefined) {
          const bounded = sub.maxLength !== undefined || (sub.pattern && !/[*+]|\{\d+,\}/.test(sub.pattern));
          expect(bounded, where).toBeTruthy();
        }
        if (types.includes('array') && !sub.$ref) expect(sub.maxItems, where).toBeTypeOf('number');
        if (types.includes('integer')) expect(sub.maximum, where).toBeTypeOf('number');
      }
    }
  });

  it('have a readable message for every pattern', () => {
    for (const s of Object.values(schemas)) {
      for (const [sub] of walk(s)) if (sub.pattern) expect(PATTERN_MESSAGES[sub.pattern], sub.pattern).toBeDefined();
    }
  });

  it('agree with the enums in types.ts', () => {
    const defs = schemas['defs.schema.json'].$defs;
    const body = (t: string) => schemas[`${t}.schema.json`].properties;
    expect(schemas['event.schema.json'].properties.type.enum).toEqual([...T.EVENT_TYPES]);
    expect(schemas['event.schema.json'].properties.spec.const).toBe(T.EVENT_SPEC);
    expect(defs.classification.enum).toEqual([...T.CLASSIFICATIONS]);
    expect(defs.promptCommitment.properties.alg.const).toBe(T.PROMPT_COMMITMENT_ALG);
    expect(body('generation').mode.enum).toEqual([...T.GENERATION_MODES]);
    expect(body('generation').settings.properties.visibility.enum).toEqual([...T.VISIBILITIES]);
    expect(body('policy-snapshot').kind.enum).toEqual([...T.POLICY_KINDS]);
    expect(schemas['policy-snapshot.schema.json'].$defs.answerValue.enum).toEqual([...T.POLICY_ANSWERS]);
    expect(body('policy-snapshot').text.properties.mediaType.enum).toEqual([...T.POLICY_TEXT_MEDIA_TYPES]);
    expect(body('export').destination.properties.kind.enum).toEqual([...T.DESTINATION_KINDS]);
    expect(body('derivation').operation.enum).toEqual([...T.DERIVATION_OPERATIONS]);
    expect(body('deletion').status.enum).toEqual([...T.DELETION_STATUSES]);
    expect(body('deletion').evidence.properties.kind.enum).toEqual([...T.EVIDENCE_KINDS]);
    expect(body('member').action.enum).toEqual([...T.MEMBER_ACTIONS]);
    expect(body('member').member.properties.role.enum).toEqual([...T.MEMBER_ROLES]);
  });
});

describe('the generated validators', () => {
  it('are fresh: rebuilding from ledger-schema/ gives the committed file byte for byte', () => {
    const stale = 'src/lib/core/generated/validators.js is stale: run `npm run build:validators`';
    expect(readFileSync(OUTPUT, 'utf8') === buildValidatorsSource(), stale).toBe(true);
    expect(readFileSync(OUTPUT.replace(/\.js$/, '.d.ts'), 'utf8') === buildValidatorsDeclarations(), stale).toBe(true);
  });

  it('are a self-contained ES module: no require, no import, no eval or new Function', () => {
    const src = readFileSync(OUTPUT, 'utf8');
    expect(src).not.toMatch(/\brequire\s*\(/);
    expect(src).not.toMatch(/^\s*import\b/m);
    expect(src).not.toMatch(/\bimport\s*\(/);
    expect(src).not.toMatch(/\beval\s*\(|new Function/);
    expect(src).toMatch(/^export const validateEvent = /m);
  });
});

describe('README section 8 worked example', () => {
  it('states the commitment that SHA-256(salt || UTF-8(prompt)) gives, and the example event carries it', () => {
    const readme = readFileSync(new URL('README.md', SCHEMA_DIR), 'utf8');
    const opening = JSON.parse(readme.match(/^(\{"alg":"sha256-salt32-utf8-v1".*\})$/m)![1]);
    const salt = Buffer.from(opening.salt, 'base64url');
    expect(salt).toEqual(Buffer.from(Array.from({ length: 32 }, (_, i) => i)));
    const c = createHash('sha256').update(salt).update(opening.prompt, 'utf8').digest('hex');
    expect(c).toBe(opening.commitment);
    expect(readme).toContain(`commitment      ${c}`);
    const nfd = createHash('sha256').update(salt).update(opening.prompt.normalize('NFD'), 'utf8').digest('hex');
    expect(readme).toContain(nfd);
    const e = readJson(new URL('generation-gltf-set.json', VALID));
    expect(e.body.prompt).toEqual({ alg: 'sha256-salt32-utf8-v1', commitment: c });
  });
});
