/**
 * Policy changes: the text diffed by lines (line breaks and paragraphs kept, only differing words marked,
 * "only changed" with context), the answers compared with their flags, and the warnings before signing
 * (stale snapshots by the same rule as the Dashboard's gaps, red flags, another platform's checklist).
 */
import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../../src/lib/core/event.ts';
import {
  changedWithContext,
  compareAnswers,
  describeChange,
  linesOf,
  policyDiff,
  wordDiff
} from '../../../src/lib/ui/policy-diff.ts';
import { flagOf, isOptional } from '../../../src/lib/ui/policy.ts';
import { validateBody } from '../../../src/lib/core/validate.ts';
import { readFileSync } from 'node:fs';
import {
  DAY_MS,
  gaps,
  generationsUnder,
  isFresh,
  policyWarnings,
  previousSnapshot
} from '../../../src/lib/core/insights.ts';

const V1 = `Tripo Privacy Policy
Last updated: 1 March 2025

1. What we collect
We collect the prompts you type.
We collect the images you upload.
We collect usage data.

2. How we use it
We use your content to provide the service.
We do not sell your data.

3. Retention
We keep files for 30 days after you delete them.`;

const V2 = `Tripo Privacy Policy
Last updated: 1 June 2026

1. What we collect
We collect the prompts you type.
We collect the images you upload.
We collect usage data.

2. How we use it
We use your content to provide the service and to train our models.
We do not sell your data.

3. Retention
We keep files for 30 days after you delete them.`;

const marked = (segs: { text: string; changed: boolean }[] | undefined) =>
  (segs ?? []).filter((s) => s.changed).map((s) => s.text);
const plain = (segs: { text: string }[] | undefined) => (segs ?? []).map((s) => s.text).join('');

describe('policyDiff: by lines', () => {
  it('keeps every line of a plain text as its own row, and the paragraph breaks', () => {
    const d = policyDiff(V1, V1);
    expect(d.rows.map((r) => plain(r.right))).toEqual(linesOf(V1).map((l) => l.text));
    expect(d.rows).toHaveLength(11);
    expect(d.rows.filter((r) => r.para).map((r) => plain(r.right))).toEqual([
      '1. What we collect',
      '2. How we use it',
      '3. Retention'
    ]);
    expect(d.changedSections).toBe(0);
    expect(d.rows.every((r) => !r.changed)).toBe(true);
  });

  it('marks only the changed lines, and in them only the words that differ', () => {
    const d = policyDiff(V1, V2);
    const changed = d.rows.filter((r) => r.changed);
    expect(changed).toHaveLength(2);
    expect(d.changedSections).toBe(2);
    expect(marked(changed[0].left)).toEqual(['March', '2025']);
    expect(marked(changed[0].right)).toEqual(['June', '2026']);
    expect(plain(changed[0].left)).toBe('Last updated: 1 March 2025');
    expect(marked(changed[1].left)).toEqual([]);
    expect(marked(changed[1].right)).toEqual(['and to train our models']);
    expect(plain(changed[1].left)).toBe('We use your content to provide the service.');
    expect(plain(changed[1].right)).toBe('We use your content to provide the service and to train our models.');
    expect(d.addedChars).toBe('June2026'.length + 'and to train our models'.length);
    expect(d.removedChars).toBe('March2025'.length);
  });

  it('never marks an unchanged word as deleted and inserted', () => {
    const { left, right } = wordDiff(
      'We retain files for 30 days after deletion, in encrypted backups.',
      'We retain files for 180 days after deletion, in encrypted backups.'
    );
    expect(marked(left)).toEqual(['30']);
    expect(marked(right)).toEqual(['180']);
    for (const [a, b] of [
      ['Files are kept for thirty days.', 'Files are kept for ninety days.'],
      ['We share data with partners and vendors.', 'We share data with partners and vendors and affiliates.'],
      [
        'Unless you opt out in Settings, we may use it.',
        'Unless you opt out in your account Settings, we will use it.'
      ],
      ['a b c d e', 'a x c y e']
    ]) {
      const w = wordDiff(a, b);
      const del = marked(w.left).join(' ').split(/\s+/).filter(Boolean);
      const ins = marked(w.right).join(' ').split(/\s+/).filter(Boolean);
      expect(del.filter((x) => ins.includes(x))).toEqual([]);
      expect(plain(w.left)).toBe(a);
      expect(plain(w.right)).toBe(b);
    }
  });

  it('shows an unrelated replacement as a line removed and a line added, and added lines against an empty cell', () => {
    const d = policyDiff(
      'Intro\nWe never train on your inputs.\nEnd',
      'Intro\nContact us at privacy@example.com.\nA new paragraph here.\nEnd'
    );
    const changed = d.rows.filter((r) => r.changed);
    expect(changed.map((r) => [plain(r.left), plain(r.right)])).toEqual([
      ['We never train on your inputs.', ''],
      ['', 'Contact us at privacy@example.com.'],
      ['', 'A new paragraph here.']
    ]);
    expect(changed[0].right).toBeUndefined();
    expect(changed[1].left).toBeUndefined();
    expect(d.changedSections).toBe(1);
  });

  it('reads an HTML text (paragraphs) and a plain text (lines) alike', () => {
    const d = policyDiff(
      'A policy\n\nFirst paragraph.\n\nSecond paragraph.',
      'A policy\n\nFirst paragraph.\n\nSecond paragraph, changed.'
    );
    expect(d.rows.map((r) => r.changed)).toEqual([false, false, true]);
    expect(d.rows.map((r) => r.para)).toEqual([false, true, true]);
  });
});

describe('changedWithContext', () => {
  it('shows the changed rows with one unchanged row either side, and counts what it hides', () => {
    const d = policyDiff(V1, V2);
    const shown = changedWithContext(d.rows, 1);
    const texts = shown.map((s) => (s.kind === 'skip' ? `…${s.lines}` : plain(s.row.right)));
    expect(texts).toEqual([
      'Tripo Privacy Policy',
      'Last updated: 1 June 2026',
      '1. What we collect',
      '…3',
      '2. How we use it',
      'We use your content to provide the service and to train our models.',
      'We do not sell your data.',
      '…2'
    ]);
    expect(changedWithContext(policyDiff(V1, V1).rows)).toEqual([]);
  });
});

describe('compareAnswers', () => {
  const a = (answer: string, extra: Record<string, unknown> = {}) => ({ answer, ...extra });
  it('lists the questions whose answer changed, with the flags on both sides', () => {
    const before = {
      trainingOnInputs: a('not-stated'),
      trainingOnOutputs: a('no'),
      optOutAvailable: a('yes'),
      retentionAfterDeletion: a('yes', { days: 30 })
    };
    const after = {
      trainingOnInputs: a('yes', { excerpt: 'We train on prompts.' }),
      trainingOnOutputs: a('no'),
      optOutAvailable: a('no'),
      retentionAfterDeletion: a('yes', { days: 180 })
    };
    const c = compareAnswers(before, after);
    expect(c.map((x) => x.key)).toEqual(['trainingOnInputs', 'optOutAvailable', 'retentionAfterDeletion']);
    expect(c[0]).toMatchObject({ from: 'not-stated', to: 'yes', fromFlag: 'amber', toFlag: 'red', worse: true });
    expect(describeChange(c[0])).toBe('training on inputs: Not stated → Yes');
    expect(c[1]).toMatchObject({ fromFlag: 'green', toFlag: 'red', worse: true });
    expect(describeChange(c[2])).toBe('files kept after deletion: Yes (30 days) → Yes (180 days)');
    expect(c[2].worse).toBe(true);
  });
  it('says nothing when only excerpts differ; a missing answer is "not stated"; a better answer is not worse', () => {
    expect(
      compareAnswers({ trainingOnInputs: a('no', { excerpt: 'x' }) }, { trainingOnInputs: a('no', { excerpt: 'y' }) })
    ).toEqual([]);
    expect(compareAnswers({}, { thirdPartySharing: a('not-stated') })).toEqual([]);
    const [c] = compareAnswers({ trainingOnInputs: a('yes') }, { trainingOnInputs: a('no') });
    expect(c.worse).toBe(false);
    expect(compareAnswers(undefined, { internalAccess: a('bogus') })).toEqual([]);
  });
});

/* ---- warnings ---- */

const NOW = Date.parse('2026-12-07T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
let n = 0;
const ev = (type: string, time: number, body: Record<string, unknown>): LedgerEvent =>
  ({ id: `id${String(n++).padStart(4, '0')}`, event: { type, time: iso(time), body } }) as unknown as LedgerEvent;
const snap = (
  platform: string,
  kind: string,
  daysAgo: number,
  answers: Record<string, string> = {},
  previous?: string
) =>
  ev('policy-snapshot', NOW - daysAgo * DAY_MS, {
    platform: { name: platform },
    kind,
    retrievedAt: iso(NOW - daysAgo * DAY_MS),
    answers: Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, { answer: v }])),
    ...(previous ? { previous } : {})
  });
const red = (k: string, v: string) => flagOf(k, v) === 'red';

describe('policyWarnings', () => {
  it('names the stale snapshots with their age, by the same rule as the Dashboard gaps', () => {
    const old = snap('Tripo', 'privacy-policy', 431, { trainingOnInputs: 'no' });
    const fresh = snap('Meshy', 'privacy-policy', 10);
    const events = [old, fresh];
    const w = policyWarnings(
      events,
      { platform: 'Tripo', classification: 'client', snapshots: [old.id], now: NOW },
      red
    );
    expect(w.stale).toEqual([
      { id: old.id, platform: 'Tripo', kind: 'privacy-policy', retrievedAt: iso(NOW - 431 * DAY_MS), ageDays: 431 }
    ]);
    expect(w.noFreshPolicy).toBe(true);
    // A generation recorded now on Tripo for a client is a gap; on Meshy it is not: the same rule.
    const genT = ev('generation', NOW, {
      platform: { name: 'Tripo' },
      classification: 'client',
      project: 'P',
      checklist: 'none',
      policySnapshots: [old.id]
    });
    const genM = ev('generation', NOW, {
      platform: { name: 'Meshy' },
      classification: 'client',
      project: 'P',
      policySnapshots: [fresh.id]
    });
    const g = gaps([...events, genT, genM]);
    expect(g.find((x) => x.id === genT.id)?.noFreshPolicy).toBe(true);
    expect(g.find((x) => x.id === genM.id)?.noFreshPolicy).toBe(false);
    expect(
      policyWarnings(events, { platform: 'Meshy', classification: 'client', snapshots: [fresh.id], now: NOW }, red)
    ).toMatchObject({ stale: [], noFreshPolicy: false });
    expect(isFresh(iso(NOW - 90 * DAY_MS), NOW)).toBe(true);
    expect(isFresh(iso(NOW - 90 * DAY_MS - 1), NOW)).toBe(false);
  });

  it('warns of red flags only for confidential and client projects', () => {
    const s = snap('Tripo', 'privacy-policy', 5, {
      trainingOnInputs: 'yes',
      optOutAvailable: 'yes',
      thirdPartySharing: 'unclear'
    });
    const w = policyWarnings(
      [s],
      { platform: 'tripo', classification: 'confidential', snapshots: [s.id], now: NOW },
      red
    );
    expect(w.redFlags).toEqual([
      { id: s.id, platform: 'Tripo', kind: 'privacy-policy', answers: [{ key: 'trainingOnInputs', answer: 'yes' }] }
    ]);
    expect(policyWarnings([s], { platform: 'Tripo', classification: 'personal', now: NOW }, red).redFlags).toEqual([]);
    // Without a platform (a checklist not yet tied to one): the picked snapshots' platforms.
    expect(policyWarnings([s], { classification: 'client', snapshots: [s.id], now: NOW }, red).redFlags).toHaveLength(
      1
    );
  });

  it("warns of another platform's checklist and snapshots", () => {
    const s = snap('Tripo', 'privacy-policy', 5);
    const c = ev('checklist', NOW - DAY_MS, {
      project: 'P',
      classification: 'client',
      platform: { name: 'Tripo' },
      policySnapshots: [s.id],
      items: {}
    });
    const w = policyWarnings(
      [s, c],
      { platform: 'Meshy', classification: 'client', snapshots: [s.id], checklist: c.id, now: NOW },
      red
    );
    expect(w.otherChecklist).toEqual({ id: c.id, platform: 'Tripo' });
    expect(w.otherSnapshots).toEqual([{ id: s.id, platform: 'Tripo', kind: 'privacy-policy' }]);
    const ok = policyWarnings(
      [s, c],
      { platform: 'TRIPO', classification: 'client', snapshots: [s.id], checklist: c.id, now: NOW },
      red
    );
    expect(ok.otherChecklist).toBeUndefined();
    expect(ok.otherSnapshots).toEqual([]);
  });
});

describe('previous terms', () => {
  it('finds the previous snapshot of the same platform and kind, and the generations recorded under it', () => {
    const p1 = snap('Tripo', 'privacy-policy', 200);
    const t1 = snap('Tripo', 'terms-of-service', 150);
    const p2 = snap('Tripo', 'privacy-policy', 1);
    const g0 = ev('generation', NOW - 250 * DAY_MS, { platform: { name: 'Tripo' } });
    const g1 = ev('generation', NOW - 100 * DAY_MS, { platform: { name: 'Tripo' } });
    const g2 = ev('generation', NOW - 50 * DAY_MS, { platform: { name: 'tripo' } });
    const gm = ev('generation', NOW - 50 * DAY_MS, { platform: { name: 'Meshy' } });
    const g3 = ev('generation', NOW, { platform: { name: 'Tripo' } });
    const events = [p1, t1, p2, g0, g1, g2, gm, g3];
    expect(previousSnapshot(events, p2)?.id).toBe(p1.id);
    expect(previousSnapshot(events, p1)).toBeUndefined();
    expect(generationsUnder(events, 'Tripo', iso(NOW - 200 * DAY_MS), iso(NOW - DAY_MS)).map((e) => e.id)).toEqual([
      g2.id,
      g1.id
    ]);
  });
});

describe('the optional questions', () => {
  const body = JSON.parse(
    readFileSync(new URL('../../../ledger-schema/examples/valid/policy-snapshot-first.json', import.meta.url), 'utf8')
  ).body;
  it('keep older snapshots valid, and are valid when answered', () => {
    expect(validateBody('policy-snapshot', body)).toEqual([]);
    const answered = {
      ...body,
      answers: {
        ...body.answers,
        outputsOwned: { answer: 'yes', excerpt: 'You own the outputs.' },
        contentLicense: { answer: 'yes' },
        trainingDataDisclosed: { answer: 'no' },
        dataProtectionCommitments: { answer: 'unclear' }
      }
    };
    expect(validateBody('policy-snapshot', answered)).toEqual([]);
    expect(
      validateBody('policy-snapshot', { ...body, answers: { ...body.answers, outputsOwned: { answer: 'maybe' } } })
    ).not.toEqual([]);
    expect(
      validateBody('policy-snapshot', { ...body, answers: { ...body.answers, somethingElse: { answer: 'yes' } } })
    ).not.toEqual([]);
  });
  it('have flags, and an absent one reads as not stated', () => {
    expect(
      ['outputsOwned', 'contentLicense', 'trainingDataDisclosed', 'dataProtectionCommitments'].every(isOptional)
    ).toBe(true);
    expect(isOptional('trainingOnInputs')).toBe(false);
    expect(flagOf('outputsOwned', 'no')).toBe('red');
    expect(flagOf('contentLicense', 'yes')).toBe('red');
    expect(flagOf('trainingDataDisclosed', 'yes')).toBe('green');
    expect(flagOf('dataProtectionCommitments', 'yes')).toBe('green');
    expect(compareAnswers({}, { contentLicense: { answer: 'yes' } }).map(describeChange)).toEqual([
      'licence to your content: Not stated → Yes'
    ]);
  });
});
