/** Shared steps and fixtures for the page-level e2e tests (record, policies, checklist, search, dashboard). */
import { expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
mkdirSync(SHOTS, { recursive: true });
export const HOSTILE = '<img src=x onerror=alert(1)>';
export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Collects page errors, CSP violations, console errors and dialogs (an executed alert()). */
export function watch(page: Page) {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return problems;
}

export async function createLedger(page: Page, member = 'Ada Artist', ledger = 'Studio Nord') {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Create your ledger' })).toBeVisible();
  await page.getByLabel('Your name').fill(member);
  await page.getByLabel('Ledger name').fill(ledger);
  await page.getByRole('button', { name: 'Create ledger' }).click();
  await expect(page.getByTestId('ledger-name')).toHaveText(ledger);
  await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();
}

/** Follows a link of the main navigation (opening the menu first on a narrow screen). */
export async function nav(page: Page, name: string) {
  const menu = page.getByRole('button', { name: 'Menu' });
  if (await menu.isVisible()) await menu.click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

/** A valid binary glTF 2.0: a JSON chunk and, when `binBytes` > 0, a BIN chunk of that many bytes. */
export function glb(binBytes = 0, generator = 'e2e'): Buffer {
  const bin = Buffer.alloc(binBytes + ((4 - (binBytes % 4)) % 4), 7);
  const gltf: Record<string, unknown> = { asset: { version: '2.0', generator }, scenes: [{ nodes: [] }], scene: 0 };
  if (binBytes > 0) gltf.buffers = [{ byteLength: bin.length }];
  let json = Buffer.from(JSON.stringify(gltf));
  json = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
  const chunks = [chunk(json, 'JSON'), ...(binBytes > 0 ? [chunk(bin, 'BIN\0')] : [])];
  const body = Buffer.concat(chunks);
  const header = Buffer.alloc(12);
  header.write('glTF', 0, 'ascii');
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + body.length, 8);
  return Buffer.concat([header, body]);
}
function chunk(data: Buffer, type: string) {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(data.length, 0);
  h.write(type, 4, 'ascii');
  return Buffer.concat([h, data]);
}

/** A glTF with an external .bin (one triangle) and a PNG texture: the three files of one model set. */
export function gltfSet(stem = 'robot') {
  const bin = Buffer.alloc(36);
  [0, 0, 0, 1, 0, 0, 0, 1, 0].forEach((v, i) => bin.writeFloatLE(v, i * 4));
  // A 1x1 PNG.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64'
  );
  const gltf = Buffer.from(
    JSON.stringify({
      asset: { version: '2.0', generator: 'e2e' },
      buffers: [{ uri: `${stem}.bin`, byteLength: 36 }],
      bufferViews: [{ buffer: 0, byteLength: 36 }],
      accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] }],
      images: [{ uri: `${stem}_baseColor.png` }],
      textures: [{ source: 0 }],
      materials: [{ pbrMetallicRoughness: { baseColorTexture: { index: 0 } } }],
      meshes: [{ primitives: [{ attributes: { POSITION: 0 }, material: 0 }] }],
      nodes: [{ mesh: 0 }],
      scenes: [{ nodes: [0] }],
      scene: 0
    })
  );
  return [
    { name: `${stem}.gltf`, mimeType: 'model/gltf+json', buffer: gltf },
    { name: `${stem}.bin`, mimeType: 'application/octet-stream', buffer: bin },
    { name: `${stem}_baseColor.png`, mimeType: 'image/png', buffer: png }
  ];
}

export interface Generation {
  platform: string;
  project: string;
  classification?: 'public' | 'personal' | 'confidential' | 'client';
  modelVersion?: string;
  prompt?: string;
  files: { name: string; mimeType: string; buffer: Buffer }[];
  /** Leave the suggested checklist/policies as they are (default) or clear them. */
  noPolicies?: boolean;
}

/** Records one generation through the Record page and waits for the confirmation. */
export async function recordGeneration(page: Page, g: Generation) {
  if (!page.url().endsWith('/record')) await nav(page, 'Record');
  const form = page.getByTestId('generation-form');
  await form.getByLabel('Platform', { exact: true }).fill(g.platform);
  await form.getByLabel('Model version').fill(g.modelVersion ?? '');
  await form.getByLabel('Project', { exact: true }).fill(g.project);
  await form.getByLabel('Classification').selectOption(g.classification ?? 'confidential');
  if (g.prompt) await form.getByLabel('Prompt').fill(g.prompt);
  await form.getByLabel('Output files').setInputFiles(g.files);
  await expect(form.getByTestId('output-files').getByTestId('file-row')).toHaveCount(g.files.length);
  if (g.noPolicies) {
    for (const box of await form.getByTestId('policy-picks').getByRole('checkbox').all()) await box.uncheck();
    await form.getByLabel('Checklist').selectOption('');
  }
  await form.getByRole('button', { name: 'Record generation' }).click();
  await expect(page.getByTestId('recorded')).toContainText('Generation recorded');
}
