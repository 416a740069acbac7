#!/usr/bin/env node
/**
 * `npm test`: unit tests (vitest), then a production build and the end-to-end tests (Playwright, real
 * Chromium) against it. Every part runs even when an earlier one fails (except e2e without a build).
 * Prints one summary line, "N passed, N failed", summing unit and e2e tests, and exits non-zero on any failure.
 *
 *   node scripts/test.js [--skip-check] [--skip-lint] [--skip-unit] [--skip-e2e]
 *
 * Machine-readable reports land in test-results/ (vitest.json, playwright.json), screenshots in
 * test-results/screenshots/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const results = path.join(root, 'test-results');
const bin = path.join(root, 'node_modules', '.bin');
const args = new Set(process.argv.slice(2));

// Children find Node 22 (the npm `node` package) and the local tools first.
const env = {
  ...process.env,
  PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
  FORCE_COLOR: process.env.FORCE_COLOR ?? '1'
};

function run(title, command, commandArgs, extraEnv = {}) {
  console.log(`\n━━ ${title} ━━`);
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, env: { ...env, ...extraEnv }, stdio: 'inherit' });
    child.on('error', (e) => {
      console.error(`${title}: could not start ${command}: ${e.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Counts from a report; a stage that failed without reporting any failure counts as one failure. */
function counts(code, passed, failed) {
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

mkdirSync(results, { recursive: true });
const total = { passed: 0, failed: 0 };
const lines = [];
const add = (name, c) => {
  total.passed += c.passed;
  total.failed += c.failed;
  lines.push(`${name}: ${c.passed} passed, ${c.failed} failed`);
};

if (!args.has('--skip-check')) {
  // Type check (TypeScript strict, Svelte components): one result, counted as one test.
  const code = await run('type check (svelte-check)', 'npm', [
    'run',
    '--silent',
    'check',
    '--',
    '--threshold',
    'error'
  ]);
  add('typecheck', code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });
}

if (!args.has('--skip-lint')) {
  // Formatting (Prettier) and lint errors (ESLint): one result each, counted as one test.
  const format = await run('format (prettier --check)', path.join(bin, 'prettier'), [
    '--check',
    '--log-level',
    'warn',
    '.'
  ]);
  add('format', format === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });
  const lint = await run('lint (eslint)', path.join(bin, 'eslint'), ['.']);
  add('lint', lint === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });
}

if (!args.has('--skip-unit')) {
  const report = path.join(results, 'vitest.json');
  rmSync(report, { force: true });
  const code = await run('unit tests (vitest)', path.join(bin, 'vitest'), [
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`
  ]);
  const r = readJson(report);
  // A suite that fails to load has no failed tests of its own: count it once; otherwise count the failed tests.
  const suitesWithoutTests = (r?.testResults ?? []).filter(
    (t) => t.status === 'failed' && !(t.assertionResults ?? []).some((a) => a.status === 'failed')
  ).length;
  add('unit', counts(code, r?.numPassedTests ?? 0, (r?.numFailedTests ?? 0) + suitesWithoutTests));
}

if (!args.has('--skip-e2e')) {
  const buildCode = await run('build (vite build)', path.join(bin, 'vite'), ['build']);
  if (buildCode !== 0) {
    add('build', { passed: 0, failed: 1 });
  } else {
    const report = path.join(results, 'playwright.json');
    rmSync(report, { force: true });
    rmSync(path.join(results, 'screenshots'), { force: true, recursive: true });
    const code = await run(
      'end-to-end tests (Playwright, Chromium)',
      path.join(bin, 'playwright'),
      ['test', '-c', 'tests/e2e/playwright.config.ts', '--reporter=list,json'],
      { PLAYWRIGHT_JSON_OUTPUT_NAME: report, FORCE_COLOR: '0' }
    );
    const s = readJson(report)?.stats;
    add('e2e', counts(code, (s?.expected ?? 0) + (s?.flaky ?? 0), s?.unexpected ?? 0));
  }
}

console.log(`\n${lines.join('\n')}`);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exit(total.failed > 0 ? 1 : 0);
