/**
 * Realistic generation bodies for the benchmark: the shape `record generation` writes for a glTF set made from a
 * reference image (one input, three outputs of one set, a prompt commitment, project, classification, the
 * policy snapshot and checklist that applied). Hashes and sizes are random, so nothing compresses better than
 * it would in real use. Deterministic for a given seed.
 */
import { createHash } from 'node:crypto';

const PLATFORMS = [
  { name: 'Tripo', modelVersion: 'v3.0' },
  { name: 'Meshy', modelVersion: 'meshy-5' },
  { name: 'Rodin', modelVersion: 'Gen-2' }
];
const PROJECTS = ['Café Lumière mascot', 'Brass Robots', 'Harbour VR walkthrough', 'Personal sketchbook'];
const SUBJECTS = ['robot', 'teapot', 'lantern', 'fox', 'armchair', 'ship', 'tower', 'mushroom'];

/** A small deterministic PRNG (xorshift-based) so runs are comparable. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

export interface BodyContext {
  /** Ids of a policy-snapshot and a checklist event already in the ledger. */
  policySnapshot: string;
  checklist: string;
}

/** Makes `count` generation bodies. */
export function generationBodies(count: number, ctx: BodyContext, seed = 1): Record<string, unknown>[] {
  const rand = rng(seed);
  const hash = (i: number, what: string) => createHash('sha256').update(`${seed}/${i}/${what}`).digest('hex');
  const out: Record<string, unknown>[] = [];
  const t0 = Date.parse('2026-11-03T09:00:00.000Z');
  for (let i = 0; i < count; i++) {
    const platform = PLATFORMS[i % PLATFORMS.length];
    const subject = `${SUBJECTS[i % SUBJECTS.length]}-${i}`;
    const set = `${subject}.gltf`;
    const size = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
    out.push({
      platform: { ...platform },
      mode: 'image-to-3d',
      prompt: { alg: 'sha256-salt32-utf8-v1', commitment: hash(i, 'prompt') },
      inputs: [
        {
          name: `${subject}-reference.jpg`,
          format: 'jpg',
          size: size(200_000, 2_000_000),
          sha256: hash(i, 'input'),
          mediaType: 'image/jpeg',
          role: 'reference'
        }
      ],
      outputs: [
        {
          name: set,
          format: 'gltf',
          size: size(8_000, 40_000),
          sha256: hash(i, 'gltf'),
          mediaType: 'model/gltf+json',
          set,
          role: 'model'
        },
        {
          name: `${subject}.bin`,
          format: 'bin',
          size: size(500_000, 8_000_000),
          sha256: hash(i, 'bin'),
          mediaType: 'application/octet-stream',
          set,
          role: 'buffer'
        },
        {
          name: `${subject}_basecolor.png`,
          format: 'png',
          size: size(500_000, 6_000_000),
          sha256: hash(i, 'png'),
          mediaType: 'image/png',
          set,
          role: 'texture'
        }
      ],
      settings: { trainingOptOut: true, privacyMode: true, seed: String(size(1, 2_000_000_000)) },
      project: PROJECTS[i % PROJECTS.length],
      classification: i % 4 === 3 ? 'personal' : 'client',
      checklist: ctx.checklist,
      policySnapshots: [ctx.policySnapshot],
      platformJobId: hash(i, 'job').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'),
      generatedAt: new Date(t0 + i * 60_000).toISOString()
    });
  }
  return out;
}

/** A policy-snapshot body (from ledger-schema/examples/valid/policy-snapshot-first.json). */
export function policySnapshotBody(): Record<string, unknown> {
  return {
    platform: { name: 'Tripo', url: 'https://www.tripo3d.ai' },
    kind: 'privacy-policy',
    documentUrl: 'https://www.tripo3d.ai/privacy-policy',
    retrievedAt: '2026-11-03T09:58:12.345Z',
    text: {
      sha256: 'c0fc8a9e88931dc8b258aaa8593452e06c415e66e0af3527f2edf455b5d5b9d5',
      size: 48213,
      mediaType: 'text/html'
    },
    version: 'Last updated: September 1, 2026',
    answers: {
      trainingOnInputs: {
        answer: 'yes',
        excerpt: 'We may use the content you upload to improve our services and models.'
      },
      trainingOnOutputs: { answer: 'unclear' },
      optOutAvailable: {
        answer: 'yes',
        excerpt: 'Paid plans can turn off "Use my data for training" in account settings.'
      },
      retentionAfterDeletion: {
        answer: 'yes',
        days: 30,
        excerpt: 'Deleted content may remain in backups for up to 30 days.'
      },
      thirdPartySharing: { answer: 'yes', excerpt: 'We share data with cloud hosting and analytics providers.' },
      internalAccess: { answer: 'not-stated' }
    },
    reviewedBy: 'Ada Moreau'
  };
}

/** A checklist body citing the policy snapshot. */
export function checklistBody(policySnapshot: string): Record<string, unknown> {
  return {
    project: 'Café Lumière mascot',
    classification: 'client',
    policySnapshots: [policySnapshot],
    items: { classified: true, policiesReviewed: true, privacySettingsEnabled: true, inputsSanitized: true }
  };
}
