/**
 * The generation's privacy settings are claims the user makes: --training-opt-out / --no-training-opt-out and
 * --privacy-mode / --no-privacy-mode say on or off; without either the setting is not recorded (absent).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from './helpers.ts';

let work: string;
let cleanup: () => Promise<void>;
let pl: ReturnType<typeof cli>;

beforeAll(async () => {
  ({ dir: work, cleanup } = await tempDir());
  pl = cli(path.join(work, 'ledger'), work);
  await writeFile(path.join(work, 'robot.glb'), Buffer.alloc(1000, 7));
  const r = await pl('init', '--name', 'Ada', '--ledger-name', 'Settings Studio', '--json');
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => cleanup());

const generation = async (...flags: string[]) => {
  const r = await pl(
    'record',
    'generation',
    '--platform',
    'Tripo',
    '--prompt',
    'a robot',
    '--output',
    path.join(work, 'robot.glb'),
    '--project',
    'P',
    '--classification',
    'personal',
    ...flags,
    '--json'
  );
  expect(r.code, r.stderr).toBe(0);
  return r.json().event as { id: string; body: { settings: Record<string, unknown> } };
};

describe('record generation: privacy settings', () => {
  it('without a flag, neither setting is recorded: the event has no trainingOptOut or privacyMode', async () => {
    const ev = await generation();
    expect(ev.body.settings).toEqual({});
    const shown = await pl('show', ev.id, '--json');
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.stringify(shown.json())).not.toMatch(/trainingOptOut|privacyMode/);
  });

  it('--training-opt-out and --privacy-mode record on', async () => {
    expect((await generation('--training-opt-out', '--privacy-mode')).body.settings).toEqual({
      trainingOptOut: true,
      privacyMode: true
    });
  });

  it('--no-training-opt-out and --no-privacy-mode record off', async () => {
    expect((await generation('--no-training-opt-out', '--no-privacy-mode')).body.settings).toEqual({
      trainingOptOut: false,
      privacyMode: false
    });
  });

  it('each setting on its own: one said, the other not recorded', async () => {
    expect((await generation('--no-training-opt-out', '--seed', '7')).body.settings).toEqual({
      trainingOptOut: false,
      seed: '7'
    });
    expect((await generation('--privacy-mode')).body.settings).toEqual({ privacyMode: true });
  });

  it('the ledger with all of them verifies', async () => {
    const r = await pl('verify', '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
