/** Data-quality checks before signing (ui/data-quality.ts), the words for codes (ui/words.ts), dates as recorded, and the glTF's own generator. */
import { describe, expect, it } from 'vitest';
import { alreadyRecorded, gltfMissing, mentionsOf, neverOnPlatform } from '../../../src/lib/ui/data-quality.ts';
import { ownGenerator, glbJson } from '../../../src/lib/ui/viewer/gltf-meta.ts';
import {
  classificationWord,
  deletionStatusWord,
  destinationKindWord,
  modeWord,
  operationWord,
  plainWords,
  policyKindWord,
  answerWord
} from '../../../src/lib/ui/words.ts';
import { stepOf } from '../../../src/routes/asset/[id]/custody-view.ts';
import { eventView } from '../../../src/lib/ui/event-view.ts';
import { formatTime } from '../../../src/lib/ui/format.ts';
import { MODE_LABELS } from '../../../src/lib/ui/format.ts';
import { GENERATION_MODES, CLASSIFICATIONS } from '../../../src/lib/engine/protocol.ts';
import { POLICY_KINDS } from '../../../src/lib/ui/policy.ts';

let n = 0;
const ev = (type: string, body: unknown) =>
  ({
    id: (++n).toString(16).padStart(64, '0'),
    event: { type, time: '2026-11-29T14:00:00.000Z', body },
    sig: ''
  }) as never;
const H = (c: string) => c.repeat(64);

describe('gltfMissing', () => {
  const gltf = JSON.stringify({
    asset: { version: '2.0' },
    buffers: [
      { uri: 'robot.bin', byteLength: 36 },
      { uri: 'data:application/octet-stream;base64,AAAA', byteLength: 3 }
    ],
    images: [{ uri: 'textures/robot%20color.png' }, { bufferView: 0, mimeType: 'image/png' }, { uri: 'robot.bin' }]
  });
  it('names the .bin and textures the JSON refers to that were not chosen; data: URIs and bufferView images are not files', () => {
    expect(gltfMissing(gltf, ['robot.gltf'])).toEqual({ missing: ['robot.bin', 'robot color.png'], unreadable: false });
    expect(gltfMissing(gltf, ['robot.gltf', 'robot.bin'])).toEqual({ missing: ['robot color.png'], unreadable: false });
    expect(gltfMissing(gltf, ['robot.gltf', 'robot.bin', 'robot color.png']).missing).toEqual([]);
  });
  it('a file that is not glTF JSON names nothing', () => {
    expect(gltfMissing('not json', [])).toEqual({ missing: [], unreadable: true });
    expect(gltfMissing('[1]', [])).toEqual({ missing: [], unreadable: true });
    expect(gltfMissing('{"buffers": "x", "images": [null, 3, {"uri": 5}]}', []).missing).toEqual([]);
  });
});

describe('files already in the ledger', () => {
  const gen = ev('generation', {
    platform: { name: 'Tripo' },
    outputs: [{ name: 'robot.glb', sha256: H('a') }],
    inputs: [{ name: 'ref.png', sha256: H('b') }]
  });
  const der = ev('derivation', {
    parents: [{ name: 'robot.glb', sha256: H('a') }],
    outputs: [{ name: 'robot-retopo.fbx', sha256: H('c') }]
  });
  const events = [gen, der, ev('deletion', { target: { files: [H('d')] } }), ev('generation', null)];
  it('names the first event that records the file and how many do', () => {
    const d = alreadyRecorded(events, [
      { name: 'copy.glb', sha256: H('a') },
      { name: 'new.glb', sha256: H('e') },
      { name: 'ref.png', sha256: H('b') }
    ]);
    expect(d.map((x) => [x.name, x.first.event, x.first.as, x.first.name, x.count])).toEqual([
      ['copy.glb', gen, 'output', 'robot.glb', 2],
      ['ref.png', gen, 'input', 'ref.png', 1]
    ]);
    expect(mentionsOf(events, H('c')).map((m) => [m.event, m.as])).toEqual([[der, 'output']]);
    expect(mentionsOf(events, H('d'))).toEqual([]);
  });
});

describe('deleting a file the platform never held', () => {
  const events = [
    ev('generation', { platform: { name: 'Tripo' }, outputs: [{ sha256: H('a') }], inputs: [{ sha256: H('b') }] }),
    ev('generation', { platform: { name: 'Meshy' }, outputs: [{ sha256: H('e') }] }),
    ev('derivation', { parents: [{ sha256: H('a') }], outputs: [{ sha256: H('c') }] })
  ];
  const files = [
    { name: 'robot.glb', sha256: H('a') },
    { name: 'ref.png', sha256: H('b') },
    { name: 'retopo.fbx', sha256: H('c') },
    { name: 'other.glb', sha256: H('e') }
  ];
  it('a derived file, and another platform’s output, were never on it; outputs and inputs were', () => {
    expect(neverOnPlatform(events, 'Tripo', files).map((f) => f.name)).toEqual(['retopo.fbx', 'other.glb']);
    expect(neverOnPlatform(events, ' tripo ', files).map((f) => f.name)).toEqual(['retopo.fbx', 'other.glb']);
    expect(neverOnPlatform(events, 'Meshy', files).map((f) => f.name)).toEqual(['robot.glb', 'ref.png', 'retopo.fbx']);
    expect(neverOnPlatform(events, '', files)).toEqual([]);
  });
});

describe('words for codes', () => {
  it('every mode, classification and policy kind has its words, never the code', () => {
    for (const m of GENERATION_MODES) expect(modeWord(m)).toBe(MODE_LABELS[m]);
    expect(modeWord('image-to-3d')).toBe('Image to 3D');
    expect(policyKindWord('privacy-policy')).toBe('Privacy policy');
    for (const k of POLICY_KINDS) expect(policyKindWord(k)).not.toMatch(/-/);
    for (const c of CLASSIFICATIONS) expect(classificationWord(c)).toMatch(/^[A-Z]/);
    expect(destinationKindWord('encrypted-drive')).toBe('Encrypted drive');
    expect(destinationKindWord('cloud-storage')).toBe('Cloud storage');
    expect(deletionStatusWord('confirmed')).toBe('Confirmed');
    expect(operationWord('uv-unwrap')).toBe('UV unwrap');
    expect(answerWord('not-stated')).toBe('Not stated');
  });
  it('a code no table knows becomes plain words; non-strings become nothing', () => {
    expect(plainWords('sketch-to-3d')).toBe('Sketch to 3d');
    expect(plainWords('trainingOnInputs')).toBe('Training on inputs');
    expect(modeWord('sketch-to-3d')).toBe('Sketch to 3d');
    expect(modeWord('toString')).toBe('To string');
    expect(modeWord(undefined)).toBe('');
  });
  it('the asset timeline and the event list show words, not codes', () => {
    const steps = [
      stepOf(
        ev('generation', { platform: { name: 'Tripo' }, mode: 'image-to-3d', classification: 'client' }),
        () => 'Ada'
      ),
      stepOf(ev('export', { destination: { label: 'SSD', kind: 'encrypted-drive', encrypted: true } }), () => 'Ada'),
      stepOf(ev('derivation', { operation: 'uv-unwrap', tool: { name: 'Blender' } }), () => 'Ada'),
      stepOf(
        ev('deletion', {
          status: 'confirmed',
          platform: { name: 'Tripo' },
          evidence: { sha256: H('f'), kind: 'api-response' }
        }),
        () => 'Ada'
      ),
      stepOf(ev('policy-snapshot', { platform: { name: 'Tripo' }, kind: 'privacy-policy' }), () => 'Ada')
    ];
    const text = steps.map((s) => [s.title, ...s.details.map((d) => d.value)].join(' | ')).join('\n');
    expect(text).toContain('Image to 3D');
    expect(text).toContain('Client (under NDA)');
    expect(text).toContain('Encrypted drive');
    expect(text).toContain('UV unwrap in Blender');
    expect(text).toContain('API response');
    expect(text).toContain('Policy snapshot: Tripo privacy policy');
    for (const code of ['image-to-3d', 'encrypted-drive', 'uv-unwrap', 'api-response', 'privacy-policy'])
      expect(text).not.toContain(code);
    expect(eventView(ev('derivation', { operation: 'format-conversion', tool: { name: 'Blender' } })).summary).toMatch(
      /^Format conversion in Blender/
    );
  });
});

describe('dates as recorded', () => {
  it('a date entered without a time (midnight UTC) shows as the date alone, the day entered', () => {
    const shown = formatTime('2025-10-03T00:00:00.000Z');
    expect(shown).not.toMatch(/12:00|00:00|AM|PM/);
    expect(shown).toBe(
      new Date(Date.UTC(2025, 9, 3)).toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' })
    );
    expect(shown).toMatch(/3/);
  });
  it('a time recorded with its clock time keeps it', () => {
    const t = '2025-10-03T14:21:07.512Z';
    expect(formatTime(t)).toBe(new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
    expect(formatTime('nonsense')).toBe('nonsense');
  });
});

describe("the glTF's own generator", () => {
  it('from the JSON, or from a GLB’s JSON chunk', () => {
    expect(ownGenerator({ asset: { generator: 'COLLADA2GLTF', version: '2.0' } })).toBe('COLLADA2GLTF');
    expect(ownGenerator({ asset: { version: '2.0' } })).toBe(null);
    expect(ownGenerator(null)).toBe(null);
    const json = Buffer.from(
      JSON.stringify({ asset: { version: '2.0', generator: 'Khronos glTF Blender I/O' } }) + '  '
    );
    const head = Buffer.alloc(20);
    head.write('glTF', 0, 'ascii');
    head.writeUInt32LE(2, 4);
    head.writeUInt32LE(20 + json.length, 8);
    head.writeUInt32LE(json.length, 12);
    head.write('JSON', 16, 'ascii');
    const glb = new Uint8Array(Buffer.concat([head, json]));
    expect(ownGenerator(glbJson(glb))).toBe('Khronos glTF Blender I/O');
    expect(glbJson(glb.subarray(0, 30))).toBe(null);
    expect(glbJson(new Uint8Array(8))).toBe(null);
  });
});
