/** The event list's view of events: defensive against malformed bodies, text only. */
import { describe, expect, it } from 'vitest';
import { eventView } from '../../../src/lib/ui/event-view.ts';
import { formatOf } from '../../../src/lib/engine/files.ts';
import { formatBytes, shortId } from '../../../src/lib/ui/format.ts';

const ev = (type: string, body: unknown) =>
  ({ id: 'a'.repeat(64), event: { type, time: '2026-11-29T14:00:00.000Z', body }, sig: '' }) as never;

describe('eventView', () => {
  it('summarizes a generation', () => {
    const v = eventView(
      ev('generation', {
        platform: { name: 'Tripo', modelVersion: 'v2.5' },
        project: '<b>x</b>',
        classification: 'client',
        outputs: [{ name: 'a.glb', sha256: 'ff' }, {}]
      })
    );
    expect(v).toMatchObject({
      type: 'generation',
      platform: 'Tripo',
      modelVersion: 'v2.5',
      project: '<b>x</b>',
      shortId: 'aaaaaaaaaaaa'
    });
    expect(v.outputs).toEqual([
      { name: 'a.glb', sha256: 'ff' },
      { name: '(unnamed)', sha256: '' }
    ]);
  });

  it('survives hostile or malformed bodies', () => {
    for (const body of [null, 42, 'x', [], { platform: 'flat', outputs: 'nope' }, { member: null }]) {
      expect(() => eventView(ev('generation', body))).not.toThrow();
      expect(() => eventView(ev('member', body))).not.toThrow();
    }
    expect(eventView(ev('generation', { outputs: 'nope' })).outputs).toEqual([]);
  });

  it('describes the genesis event', () => {
    const v = eventView(
      ev('member', { action: 'create', ledgerName: 'Studio', member: { name: 'Ada', role: 'owner' } })
    );
    expect(v.summary).toBe('Ledger “Studio” created by Ada (owner)');
  });
});

describe('formats', () => {
  it('maps file names to schema formats', () => {
    expect(formatOf('Robot.GLB')).toBe('glb');
    expect(formatOf('tex.jpeg')).toBe('jpeg');
    expect(formatOf('scene.usdz')).toBe('usdz');
    expect(formatOf('README')).toBe('other');
    expect(formatOf('archive.tar.gz')).toBe('gz');
  });
  it('formats sizes and ids', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GB');
    expect(shortId('0123456789abcdef')).toBe('0123456789ab');
  });
});
