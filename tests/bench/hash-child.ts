/**
 * Child process for the bench's memory figure: hashes one file through the CLI's code path (hashFile: hash-wasm
 * over 1 MiB reads) and prints, as JSON, its RSS before and its peak RSS (VmHWM) after.
 * Usage: node tests/bench/hash-child.ts FILE
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hashFile } from '../../src/lib/adapters/node/files.ts';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node tests/bench/hash-child.ts FILE\n');
  process.exit(2);
}

/** VmRSS and VmHWM from /proc/self/status, in MiB (Linux); maxRSS from resourceUsage elsewhere. */
function memory(): { rss: number; hwm: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    const max = process.resourceUsage().maxRSS / 1024;
    return { rss: process.memoryUsage().rss / 1024 / 1024, hwm: max };
  }
}

// Warm up the same path on a small file (module code, wasm instance, stream machinery), then measure.
await hashFile(fileURLToPath(import.meta.url), () => {});
const before = memory();
const t = performance.now();
const result = await hashFile(file, () => {});
const ms = performance.now() - t;
const after = memory();
process.stdout.write(
  JSON.stringify({
    baselineRssMiB: before.rss,
    baselineHwmMiB: before.hwm,
    peakHwmMiB: after.hwm,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    ms,
    size: result.size,
    sha256: result.sha256
  }) + '\n'
);
