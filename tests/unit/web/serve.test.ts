/** scripts/serve.js: MIME types, CSP from the page's meta tag, SPA fallback, no traversal, port fallback. */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticServer, cspForHtml, resolveInside } from '../../../scripts/serve.js';

const META = `<meta http-equiv="content-security-policy" content="default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-abc='; object-src 'none'">`;
let dir: string;
let outside: string;
let server: Server;
let port: number;

/** A raw GET: the path goes out exactly as written (fetch would normalize "../"). */
function get(
  p: string
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: p, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'serve-test-'));
  outside = mkdtempSync(path.join(tmpdir(), 'serve-outside-'));
  writeFileSync(path.join(outside, 'secret.txt'), 'TOP SECRET');
  writeFileSync(path.join(dir, 'index.html'), `<html><head>${META}</head><body>home</body></html>`);
  writeFileSync(path.join(dir, '200.html'), `<html><head>${META}</head><body>spa</body></html>`);
  mkdirSync(path.join(dir, '_app/immutable/assets'), { recursive: true });
  writeFileSync(path.join(dir, '_app/immutable/assets/a.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  writeFileSync(path.join(dir, '_app/immutable/assets/a.js'), 'export {}');
  writeFileSync(path.join(dir, '.env'), 'SECRET=1');
  symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'link.txt'));
  server = await createStaticServer({ dir });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('serve.js', () => {
  it('serves pages with the meta CSP as a header, plus frame-ancestors and nosniff', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('home');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(
      "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-abc='; object-src 'none'; frame-ancestors 'none'"
    );
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  it('gives WebAssembly and JavaScript their MIME types, immutable assets a long cache', async () => {
    const wasm = await get('/_app/immutable/assets/a.wasm');
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect(wasm.headers['cache-control']).toContain('immutable');
    expect(wasm.headers['content-security-policy']).toContain("'wasm-unsafe-eval'");
    expect((await get('/_app/immutable/assets/a.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('falls back to 200.html for app paths, 404 for missing assets', async () => {
    const r = await get('/ledger/some/deep/link?x=1');
    expect(r.status).toBe(200);
    expect(r.body).toContain('spa');
    expect((await get('/_app/immutable/nope.js')).status).toBe(404);
    expect((await get('/missing.png')).status).toBe(404);
  });

  it('never serves files outside the root, dot-files or symlinks out', async () => {
    for (const p of [
      '/../serve-outside/secret.txt',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2fetc%2fpasswd',
      '/a/../../etc/passwd',
      '/.env',
      '/%2eenv',
      '/link.txt',
      '/x%00.html',
      '/%E0%A4%A'
    ]) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toContain('SECRET');
    }
  });

  it('refuses other methods', async () => {
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', method: 'POST' }, (res) =>
        resolve(res.statusCode ?? 0)
      );
      req.end();
    });
    expect(status).toBe(405);
  });

  it('resolveInside and cspForHtml', () => {
    expect(resolveInside('/srv', '/a/b.js')).toBe('/srv/a/b.js');
    expect(resolveInside('/srv', '/a/%2e%2e/%2e%2e/x')).toBeNull();
    expect(cspForHtml('<p>no meta</p>')).toContain("default-src 'self'");
    expect(
      cspForHtml(`<meta http-equiv="content-security-policy" content="default-src 'self'; frame-ancestors 'self'">`)
    ).toBe("default-src 'self'; frame-ancestors 'self'");
  });

  it('prints its URL and moves to the next port when the first is taken', async () => {
    const busy = port; // our test server holds it
    const child = spawn(process.execPath, ['scripts/serve.js', '--dir', dir], {
      env: { ...process.env, PORT: String(busy) }
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.trim());
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      expect(line).toMatch(/^Provenance Ledger is running at http:\/\/127\.0\.0\.1:(\d+)\/$/);
      expect(Number(/:(\d+)\/$/.exec(line)![1])).toBeGreaterThan(busy);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
