/**
 * The CLI end to end, as a user runs it: init, record every event type, then log / show / trace / reveal /
 * verify / compact, asserting on the --json documents' real values (hashes recomputed here with node:crypto).
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { cli, run, sha256File, tempDir } from './helpers.ts';

const HEX64 = /^[0-9a-f]{64}$/;

let work: string;
let cleanup: () => Promise<void>;
let L: string;
let pl: ReturnType<typeof cli>;
const ids: Record<string, string> = {};
const f = (name: string) => path.join(work, 'files', name);

const POLICY_V1 = 'Privacy policy v1\nWe may train models on your inputs.\nFiles are kept 30 days after deletion.\n';
const POLICY_V2 =
  'Privacy policy v2\nWe may train models on your inputs.\nYou can opt out in settings.\nFiles are kept 30 days after deletion.\n';
const PROMPT = 'a brass robot with copper gears,\nsteampunk style, ünïcödé 🤖';
const ANSWERS = {
  trainingOnInputs: { answer: 'yes', excerpt: 'We may train models on your inputs.' },
  trainingOnOutputs: 'unclear',
  optOutAvailable: 'no',
  retentionAfterDeletion: { answer: 'yes', days: 30 },
  thirdPartySharing: 'not-stated',
  internalAccess: 'not-stated'
};

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
  L = path.join(work, 'ledger');
  pl = cli(L, work);
  await mkdir(path.join(work, 'files', 'gltf'), { recursive: true });
  await writeFile(f('policy-v1.txt'), POLICY_V1);
  await writeFile(f('policy-v2.txt'), POLICY_V2);
  await writeFile(f('answers.json'), JSON.stringify(ANSWERS));
  await writeFile(f('prompt.txt'), PROMPT);
  await writeFile(f('reference.png'), Buffer.from('not really a png, but bytes to hash'));
  await writeFile(f('robot.glb'), Buffer.alloc(300_000, 7));
  await writeFile(f('gltf/robot.bin'), Buffer.alloc(4096, 1));
  await writeFile(f('gltf/base color.png'), Buffer.alloc(2048, 2));
  await writeFile(
    f('gltf/robot.gltf'),
    JSON.stringify({
      asset: { version: '2.0' },
      buffers: [{ uri: 'robot.bin', byteLength: 4096 }],
      images: [{ uri: 'base%20color.png' }, { uri: 'data:image/png;base64,AAAA' }]
    })
  );
  await writeFile(f('robot-retopo.glb'), Buffer.alloc(150_000, 9));
  await writeFile(f('deleted.eml'), 'Subject: your files were deleted\n\nDone.\n');
  await writeFile(f('unrelated.obj'), 'v 0 0 0\n');
});

afterAll(() => cleanup());

describe('provenance-ledger CLI workflow', () => {
  it('init makes the device key (0600) and the ledger, and refuses a second init', async () => {
    const r = await pl('init', '--name', 'Ada', '--ledger-name', 'Brass Studio', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    expect(j.ledger.id).toMatch(HEX64);
    expect(j.ledger.name).toBe('Brass Studio');
    expect(j.member).toMatchObject({ name: 'Ada', role: 'owner' });
    expect(j.member.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(j.keyCreated).toBe(true);
    ids.genesis = j.ledger.id;
    for (const file of await allFiles(L)) expect((await stat(file)).mode & 0o777, file).toBe(0o600);
    expect((await stat(L)).mode & 0o777).toBe(0o700);
    const identity = JSON.parse(
      Buffer.from((await (await FsStorage.open(L)).load(['identity', 'device']))!).toString()
    );
    expect(identity.publicKey).toBe(j.member.publicKey);
    expect(identity.name).toBe('Ada');
    expect(identity.privateKey).toMatch(/^[A-Za-z0-9_-]+$/);

    const again = await pl('init', '--name', 'Eve');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/ALREADY_INITIALIZED/);
  });

  it('record policy hashes the text, keeps it locally, reads the answers', async () => {
    const r = await pl(
      'record',
      'policy',
      '--platform',
      'Tripo',
      '--kind',
      'privacy-policy',
      '--text-file',
      f('policy-v1.txt'),
      '--answers',
      f('answers.json'),
      '--url',
      'https://example.com/privacy',
      '--retrieved-at',
      '2026-11-01T10:00:00Z',
      '--json'
    );
    expect(r.code, r.stderr).toBe(0);
    const ev = r.json().event;
    ids.policy1 = ev.id;
    expect(ev.type).toBe('policy-snapshot');
    expect(ev.author.name).toBe('Ada');
    expect(ev.body.text).toEqual({
      sha256: await sha256File(f('policy-v1.txt')),
      size: Buffer.byteLength(POLICY_V1),
      mediaType: 'text/plain'
    });
    expect(ev.body.retrievedAt).toBe('2026-11-01T10:00:00.000Z');
    expect(ev.body.documentUrl).toBe('https://example.com/privacy');
    expect(ev.body.answers.trainingOnInputs).toEqual(ANSWERS.trainingOnInputs);
    expect(ev.body.answers.optOutAvailable).toEqual({ answer: 'no' });
    expect(ev.body.answers.retentionAfterDeletion).toEqual({ answer: 'yes', days: 30 });
    expect(ev.body.previous).toBeUndefined();
    const kept = await (await FsStorage.open(L)).load(['texts', ev.body.text.sha256]);
    expect(Buffer.from(kept!).toString()).toBe(POLICY_V1);
  });

  it('a second snapshot of the same platform and kind names the previous one and counts the changes', async () => {
    const r = await pl(
      'record',
      'policy',
      '--platform',
      'Tripo',
      '--kind',
      'privacy-policy',
      '--text-file',
      f('policy-v2.txt'),
      '--answers',
      f('answers.json'),
      '--summary',
      'opt-out added',
      '--json'
    );
    expect(r.code, r.stderr).toBe(0);
    const ev = r.json().event;
    ids.policy2 = ev.id;
    expect(ev.body.previous).toBe(ids.policy1);
    // v1 → v2: line 1 changed, one line added: two changed sections.
    expect(ev.body.changes).toEqual({
      summary: 'opt-out added',
      changedSections: 2,
      addedChars: 'Privacy policy v2\n'.length + 'You can opt out in settings.\n'.length,
      removedChars: 'Privacy policy v1\n'.length
    });
  });

  it('record checklist uses the latest snapshot of the platform when no --policy is given', async () => {
    const r = await pl(
      'record',
      'checklist',
      '--project',
      'Brass Robots',
      '--classification',
      'client',
      '--client',
      'ACME',
      '--platform',
      'Tripo',
      '--classified',
      '--policies-reviewed',
      '--privacy-settings',
      '--inputs-sanitized',
      '--json'
    );
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    ids.checklist = j.event.id;
    expect(j.event.body.policySnapshots).toEqual([ids.policy2]);
    expect(j.event.body.items).toEqual({
      classified: true,
      policiesReviewed: true,
      privacySettingsEnabled: true,
      inputsSanitized: true
    });
    expect(j.notes.join('\n')).toMatch(/latest policy snapshot for Tripo/);
  });

  it('record generation hashes every output (a .gltf brings its .bin and texture) and commits to the prompt', async () => {
    const r = await pl(
      'record',
      'generation',
      '--platform',
      'Tripo',
      '--model-version',
      'v2.5',
      '--mode',
      'image-to-3d',
      '--prompt-file',
      f('prompt.txt'),
      '--input',
      f('reference.png'),
      '--output',
      f('robot.glb'),
      f('gltf/robot.gltf'),
      '--checklist',
      ids.checklist.slice(0, 10),
      '--training-opt-out',
      '--privacy-mode',
      '--seed',
      '1234',
      '--json'
    );
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    const b = j.event.body;
    ids.generation = j.event.id;
    expect(b.platform).toEqual({ name: 'Tripo', modelVersion: 'v2.5' });
    expect(b.mode).toBe('image-to-3d');
    expect(b.project).toBe('Brass Robots');
    expect(b.classification).toBe('client');
    expect(b.client).toBe('ACME');
    expect(b.checklist).toBe(ids.checklist);
    expect(b.policySnapshots).toEqual([ids.policy2]);
    expect(b.settings).toEqual({ trainingOptOut: true, privacyMode: true, seed: '1234' });
    expect(b.prompt.alg).toBe('sha256-salt32-utf8-v1');
    expect(b.prompt.commitment).toMatch(HEX64);
    expect(JSON.stringify(j)).not.toContain('brass robot with copper');
    expect(b.inputs).toEqual([
      {
        name: 'reference.png',
        format: 'png',
        size: 35,
        sha256: await sha256File(f('reference.png')),
        mediaType: 'image/png',
        role: 'reference'
      }
    ]);
    expect(b.outputs).toEqual([
      {
        name: 'robot.glb',
        format: 'glb',
        size: 300_000,
        sha256: await sha256File(f('robot.glb')),
        mediaType: 'model/gltf-binary'
      },
      {
        name: 'robot.gltf',
        format: 'gltf',
        size: (await stat(f('gltf/robot.gltf'))).size,
        sha256: await sha256File(f('gltf/robot.gltf')),
        mediaType: 'model/gltf+json',
        set: 'robot.gltf',
        role: 'model'
      },
      {
        name: 'robot.bin',
        format: 'bin',
        size: 4096,
        sha256: await sha256File(f('gltf/robot.bin')),
        set: 'robot.gltf',
        role: 'buffer'
      },
      {
        name: 'base color.png',
        format: 'png',
        size: 2048,
        sha256: await sha256File(f('gltf/base color.png')),
        mediaType: 'image/png',
        set: 'robot.gltf',
        role: 'texture'
      }
    ]);
  });

  it('record export links the generation found by hash', async () => {
    const r = await pl(
      'record',
      'export',
      '--file',
      f('robot.glb'),
      '--destination',
      'Studio NAS',
      '--destination-kind',
      'encrypted-drive',
      '--encrypted',
      '--json'
    );
    expect(r.code, r.stderr).toBe(0);
    const b = r.json().event.body;
    ids.export = r.json().event.id;
    expect(b.generation).toBe(ids.generation);
    expect(b.destination).toEqual({ label: 'Studio NAS', kind: 'encrypted-drive', encrypted: true });
    expect(b.files.map((x: { sha256: string }) => x.sha256)).toEqual([await sha256File(f('robot.glb'))]);
  });

  it("record derivation finds its sources by the parents' hashes", async () => {
    const r = await pl(
      'record',
      'derivation',
      '--from',
      f('robot.glb'),
      '--output',
      f('robot-retopo.glb'),
      '--tool',
      'Blender',
      '--tool-version',
      '4.2',
      '--operation',
      'retopology',
      '--json'
    );
    expect(r.code, r.stderr).toBe(0);
    const b = r.json().event.body;
    ids.derivation = r.json().event.id;
    expect(b.tool).toEqual({ name: 'Blender', version: '4.2' });
    expect(b.operation).toBe('retopology');
    expect(b.parents[0].sha256).toBe(await sha256File(f('robot.glb')));
    expect(b.outputs[0].sha256).toBe(await sha256File(f('robot-retopo.glb')));
    expect(b.sources.sort()).toEqual([ids.generation, ids.export].sort());
  });

  it('record handoff and record deletion', async () => {
    const h = await pl(
      'record',
      'handoff',
      '--file',
      f('robot-retopo.glb'),
      '--recipient',
      'Jane Doe',
      '--organization',
      'ACME',
      '--project',
      'Brass Robots',
      '--json'
    );
    expect(h.code, h.stderr).toBe(0);
    ids.handoff = h.json().event.id;
    expect(h.json().event.body).toMatchObject({
      recipient: { name: 'Jane Doe', organization: 'ACME' },
      derivedFrom: [ids.derivation],
      project: 'Brass Robots'
    });

    const d = await pl(
      'record',
      'deletion',
      '--platform',
      'Tripo',
      '--generation',
      ids.generation.slice(0, 8),
      '--job-id',
      'task-42',
      '--status',
      'confirmed',
      '--evidence',
      f('deleted.eml'),
      '--json'
    );
    expect(d.code, d.stderr).toBe(0);
    const b = d.json().event.body;
    ids.deletion = d.json().event.id;
    expect(b.target).toEqual({ generation: ids.generation, platformJobId: 'task-42' });
    expect(b.status).toBe('confirmed');
    expect(b.confirmedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(b.evidence).toEqual({
      sha256: await sha256File(f('deleted.eml')),
      kind: 'email',
      size: 40,
      mediaType: 'message/rfc822'
    });
  });

  it('log lists every event oldest first, and filters', async () => {
    const r = await pl('log', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    expect(j.ledger).toEqual({ id: ids.genesis, name: 'Brass Studio' });
    expect(j.events.map((e: { type: string }) => e.type)).toEqual([
      'member',
      'policy-snapshot',
      'policy-snapshot',
      'checklist',
      'generation',
      'export',
      'derivation',
      'handoff',
      'deletion'
    ]);
    expect(j.events.map((e: { id: string }) => e.id)).toEqual([
      ids.genesis,
      ids.policy1,
      ids.policy2,
      ids.checklist,
      ids.generation,
      ids.export,
      ids.derivation,
      ids.handoff,
      ids.deletion
    ]);
    const gen = (await pl('log', '--type', 'generation', '--json')).json();
    expect(gen.count).toBe(1);
    expect(gen.events[0].id).toBe(ids.generation);
    const proj = (await pl('log', '--project', 'Brass Robots', '--json')).json();
    expect(proj.events.map((e: { id: string }) => e.id)).toEqual([ids.checklist, ids.generation, ids.handoff]);
    const plat = (await pl('log', '--platform', 'Tripo', '--json')).json();
    expect(plat.count).toBe(5);

    const human = await pl('log');
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n')).toHaveLength(9);
    expect(human.stdout).toContain(ids.generation.slice(0, 12));
    expect(human.stdout).toMatch(/generation\s+Ada\s+Tripo v2\.5 image-to-3d · Brass Robots \(client\) · 4 outputs/);
  });

  it('show accepts a unique 8-digit prefix', async () => {
    const r = await pl('show', ids.generation.slice(0, 8), '--json');
    expect(r.code, r.stderr).toBe(0);
    const ev = r.json().event;
    expect(ev.id).toBe(ids.generation);
    expect(ev.sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(ev.parents).toEqual([ids.checklist]);
    const human = await pl('show', ids.generation);
    expect(human.stdout).toContain(`generation ${ids.generation}`);
    expect(human.stdout).toContain('robot.bin');
    const short = await pl('show', ids.generation.slice(0, 7));
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 8 hex digits/);
  });

  it('trace of an output file returns the generation that names its exact hash', async () => {
    const sha = createHash('sha256').update(Buffer.alloc(4096, 1)).digest('hex');
    const r = await pl('trace', f('gltf/robot.bin'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    expect(j.found).toBe(true);
    expect(j.file).toMatchObject({ name: 'robot.bin', size: 4096, sha256: sha });
    const gen = j.events.find((e: { id: string }) => e.id === ids.generation);
    expect(gen.type).toBe('generation');
    expect(gen.mentions).toEqual(['outputs[2].sha256']);
    expect(gen.body.outputs[2].sha256).toBe(sha);
    // The generation's context comes along: its checklist and policy snapshot.
    expect(j.events.map((e: { id: string }) => e.id)).toEqual(
      expect.arrayContaining([ids.checklist, ids.policy2, ids.generation])
    );
  });

  it('trace of a derived file follows the chain back to the generation and on to the handoff', async () => {
    const j = (await pl('trace', f('robot-retopo.glb'), '--json')).json();
    const chain = j.events.map((e: { id: string }) => e.id);
    expect(chain).toEqual(
      expect.arrayContaining([ids.generation, ids.export, ids.derivation, ids.handoff, ids.deletion])
    );
    expect(j.events.find((e: { id: string }) => e.id === ids.handoff).mentions).toEqual(['files[0].sha256']);
    const human = await pl('trace', f('robot-retopo.glb'));
    expect(human.stdout).toMatch(/chain of custody/);
    expect(human.stdout).toMatch(/this file: outputs\[0\]\.sha256/);
  });

  it('trace of an unknown file says so, exit 0, found:false', async () => {
    const r = await pl('trace', f('unrelated.obj'), '--json');
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({
      found: false,
      events: [],
      file: { sha256: await sha256File(f('unrelated.obj')) }
    });
    const human = await pl('trace', f('unrelated.obj'));
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/not in this ledger/);
  });

  it('reveal prints the opening, which hashes to the committed value', async () => {
    const r = await pl('reveal', ids.generation.slice(0, 12), '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = r.json();
    expect(j.prompt).toBe(PROMPT);
    expect(j.verified).toBe(true);
    const salt = Buffer.from(j.salt, 'base64url');
    expect(salt).toHaveLength(32);
    const recomputed = createHash('sha256')
      .update(Buffer.concat([salt, Buffer.from(PROMPT, 'utf8')]))
      .digest('hex');
    const gen = (await pl('show', ids.generation, '--json')).json().event;
    expect(recomputed).toBe(gen.body.prompt.commitment);
    expect(j.commitment).toBe(gen.body.prompt.commitment);
  });

  it('reveal errors clearly when this device has no opening', async () => {
    const other = path.join(work, 'copy-without-vault');
    await cp(L, other, { recursive: true });
    await (await FsStorage.open(other)).removeRange(['vault']);
    const r = await run(['reveal', ids.generation, '--ledger', other]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/VAULT_MISSING/);
    expect(r.stderr).toMatch(/no opening/);
    const notGen = await pl('reveal', ids.checklist);
    expect(notGen.code).toBe(2);
    expect(notGen.stderr).toMatch(/checklist event, not a generation event/);
  });

  it('verify reports a sound ledger, then compact keeps it sound', async () => {
    const v = await pl('verify', '--json');
    expect(v.code, v.stderr).toBe(0);
    expect(v.json()).toMatchObject({ ok: true, checked: 9, valid: 9, ledgerId: ids.genesis, problems: [] });
    // Every file class the ledger keeps was read (the identity, the device log, its checkpoints, texts, the vault).
    expect(Object.keys(v.json().files).sort()).toEqual([
      'checkpoints',
      'device-log',
      'identity',
      'policy-texts',
      'timestamps',
      'vault'
    ]);
    const c = await pl('compact', '--json');
    expect(c.code, c.stderr).toBe(0);
    expect(c.json()).toMatchObject({ events: 9, chunksAfter: 1 });
    expect(c.json().chunksBefore).toBeGreaterThan(1);
    const again = await pl('verify');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^ok: ledger "Brass Studio" verified, 9 of 9 events valid/);
    expect((await pl('log', '--json')).json().count).toBe(9);
  });

  it('takes the ledger directory from PROVENANCE_LEDGER_DIR', async () => {
    const r = await run(['log', '--json'], { cwd: work, env: { PROVENANCE_LEDGER_DIR: L } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().count).toBe(9);
  });

  it('reads the prompt from stdin with --prompt-file - (so it never shows in the process list)', async () => {
    const secret = 'a prompt that must not appear in ps output\n';
    const r = await run(
      [
        'record',
        'generation',
        '--ledger',
        L,
        '--platform',
        'Meshy',
        '--prompt-file',
        '-',
        '--output',
        f('unrelated.obj'),
        '--project',
        'Side',
        '--classification',
        'personal',
        '--json'
      ],
      { cwd: work, input: secret }
    );
    expect(r.code, r.stderr).toBe(0);
    const id = r.json().event.id;
    expect(r.json().notes.join('\n')).toMatch(/no policy snapshot recorded for Meshy/);
    const opening = (await pl('reveal', id, '--json')).json();
    expect(opening.prompt).toBe(secret);
  });
});
