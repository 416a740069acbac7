/**
 * generation.schema.json: settings.trainingOptOut and settings.privacyMode are true (on), false (off) or absent
 * (not recorded); events recorded when both were required keep validating.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateBody, validateEvent } from '../../../src/lib/core/validate.ts';

const example = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../ledger-schema/examples/valid/${name}`, import.meta.url), 'utf8'));

describe('generation settings: on, off or not recorded', () => {
  const base = example('generation-image-to-3d-glb.json');
  const withSettings = (settings: unknown) => ({ ...base, body: { ...base.body, settings } });

  it('an older event with both booleans is valid, unchanged', () => {
    expect(base.body.settings).toEqual({ trainingOptOut: false, privacyMode: false });
    expect(validateEvent(base)).toEqual([]);
    expect(validateEvent(withSettings({ trainingOptOut: true, privacyMode: true }))).toEqual([]);
  });

  it('is valid with neither field (not recorded), with only one, and with other settings only', () => {
    expect(validateEvent(withSettings({}))).toEqual([]);
    expect(validateEvent(withSettings({ trainingOptOut: true }))).toEqual([]);
    expect(validateEvent(withSettings({ privacyMode: false }))).toEqual([]);
    expect(validateEvent(withSettings({ seed: '42', visibility: 'private' }))).toEqual([]);
    expect(validateBody('generation', withSettings({}).body)).toEqual([]);
  });

  it('still requires the settings object', () => {
    const { settings: _, ...body } = base.body;
    expect(validateEvent({ ...base, body }).map((p) => p.path)).toEqual(['/body/settings']);
  });

  it.each([
    ['trainingOptOut', 'yes'],
    ['trainingOptOut', 1],
    ['trainingOptOut', null],
    ['privacyMode', 'not recorded'],
    ['privacyMode', 0]
  ])('is invalid with %s = %j (never anything but a boolean)', (field, value) => {
    const problems = validateEvent(withSettings({ [field]: value }));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.map((p) => p.path)).toEqual(problems.map(() => `/body/settings/${field}`));
  });
});
