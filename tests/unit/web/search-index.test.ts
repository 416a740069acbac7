/** The search page's index: every filter, newest first, and under 50 ms over 10,000 events. */
import { describe, expect, it } from 'vitest';
import { SearchIndex } from '../../../src/lib/ui/search-index.ts';

const PLATFORMS = ['Tripo', 'Meshy', 'Rodin', 'Luma Genie'];
const CLASSES = ['public', 'personal', 'confidential', 'client'];

function events(n: number) {
  const out = [];
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const type = i === 0 ? 'member' : i % 10 === 0 ? 'policy-snapshot' : 'generation';
    const body =
      type === 'member'
        ? { action: 'create', member: { id: 'a', name: 'Ada', key: 'KEY_A', role: 'owner' }, ledgerName: 'L' }
        : {
            platform: { name: PLATFORMS[i % 4] },
            project: `Project ${i % 25}`,
            classification: CLASSES[i % 4],
            outputs: [{ name: `model-${i}.glb`, sha256: i.toString(16).padStart(64, '0') }]
          };
    out.push({
      id: i.toString(16).padStart(64, 'e'),
      event: { type, time: new Date(start + i * 3_600_000).toISOString(), author: i % 2 ? 'KEY_A' : 'KEY_B', body },
      sig: ''
    });
  }
  return out as never[];
}

describe('SearchIndex', () => {
  const idx = new SearchIndex(events(10_000));

  it('filters by each field, newest first', () => {
    const all = idx.filter({});
    expect(all.length).toBe(10_000);
    expect(all[0]).toBe(9_999);
    expect(idx.filter({ text: 'model-1234.glb' }).map((i) => i)).toEqual([1234]);
    expect(idx.filter({ text: 'MODEL-1234 glb' })).toEqual([1234]);
    expect(idx.filter({ platform: 'meshy' }).every((i) => i % 4 === 1)).toBe(true);
    expect(
      idx.filter({ project: 'Project 3', classification: 'client' }).every((i) => i % 25 === 3 && i % 4 === 3)
    ).toBe(true);
    expect(idx.filter({ type: 'policy-snapshot' }).length).toBe(999);
    expect(idx.filter({ author: 'KEY_B' }).every((i) => i % 2 === 0)).toBe(true);
    expect(idx.authors.get('KEY_A')).toBe('Ada');
    const day = idx.filter({ from: '2026-01-02', to: '2026-01-02' });
    expect(day.length).toBeGreaterThanOrEqual(23);
    expect(day.length).toBeLessThanOrEqual(25);
  });

  it('filters 10,000 events in under 50 ms', () => {
    for (const f of [
      { text: 'robot' },
      { text: 'model-9' },
      { platform: 'Tripo', classification: 'client' },
      { from: '2026-03-01', to: '2026-06-01', text: 'glb' }
    ]) {
      idx.filter(f); // warm
      const t0 = performance.now();
      idx.filter(f);
      expect(performance.now() - t0).toBeLessThan(50);
    }
  });
});
