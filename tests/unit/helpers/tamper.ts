/** Shared parts of the tamper campaigns (tests/unit/proofs/tamper.test.ts, tests/unit/journal/tamper.test.ts). */

/** A deterministic PRNG (mulberry32) so a failure can be replayed. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Positions to flip: all of a small buffer, else `sample` random ones plus the first and last 64. */
export function positions(length: number, sample: number, rand: () => number): number[] {
  if (length <= sample) return Array.from({ length }, (_, i) => i);
  const set = new Set<number>();
  for (let i = 0; i < Math.min(64, length); i++) {
    set.add(i);
    set.add(length - 1 - i);
  }
  while (set.size < sample) set.add(Math.floor(rand() * length));
  return [...set].sort((a, b) => a - b);
}

export interface Tally {
  flips: number;
  detected: number;
  located: number;
  misses: string[];
}
export const tally = (): Tally => ({ flips: 0, detected: 0, located: 0, misses: [] });

/** Prints the detection rate of one campaign (the issue asks for it; the tests assert 100%). */
export function report(what: string, t: Tally): void {
  const rate = ((100 * t.detected) / t.flips).toFixed(2);
  console.log(`tamper ${what}: ${t.flips} flips, detected ${t.detected} (${rate}%), located ${t.located}`);
}
