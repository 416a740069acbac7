/**
 * A real Git smart-HTTP server for tests: Debian's `git http-backend` run as CGI behind a Node http server on
 * 127.0.0.1 (GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL, http.receivepack true), with optional Basic auth.
 *
 *   const server = await startGitServer();            // root: a fresh temp dir
 *   await server.createRepo('team.git');              // bare, -b main
 *   server.url('team.git')                            // http://127.0.0.1:PORT/team.git
 *
 * `cors: true` answers browsers' cross-origin requests (preflight, Access-Control-Allow-*), as a Git host
 * must for the web app to push and pull. `keepAliveTimeout` (ms) closes idle kept-alive connections sooner
 * than Node's 5 s default, without telling the client so (no `Keep-Alive: timeout=` hint, as nginx and many
 * proxies answer); `server` is the Node http server (its connections, for tests that watch them).
 */
import http from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface GitServer {
  root: string;
  /** What `git http-backend` said on stderr or a non-zero exit, per request (for diagnosing failures). */
  errors: string[];
  port: number;
  server: http.Server;
  url(repo: string): string;
  createRepo(name: string): string;
  close(): Promise<void>;
}

export async function startGitServer(
  opts: { auth?: { username: string; password: string }; root?: string; cors?: boolean; keepAliveTimeout?: number } = {}
): Promise<GitServer> {
  const root = opts.root ?? mkdtempSync(path.join(tmpdir(), 'git-http-'));
  const expected = opts.auth
    ? 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')
    : undefined;
  const errors: string[] = [];
  const server = http.createServer((req, res) => {
    if (opts.cors) {
      // What a Git host must answer for a browser to push and pull (see README.md, "Git journal").
      res.setHeader('Access-Control-Allow-Origin', req.headers.origin ?? '*');
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type, accept, git-protocol');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.writeHead(204);
        res.end();
        return;
      }
    }
    // An explicit Connection header keeps Node from adding its Keep-Alive hint.
    if (opts.keepAliveTimeout !== undefined) res.setHeader('Connection', 'keep-alive');
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
      res.end('authentication required');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: req.headers['content-length'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: expected ? opts.auth!.username : 'test',
        REMOTE_ADDR: '127.0.0.1',
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.receivepack',
        GIT_CONFIG_VALUE_0: 'true'
      }
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headerDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headerDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headerDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10);
        else res.setHeader(k, v);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    let err = '';
    cgi.stderr.on('data', (c: Buffer) => (err += c.toString()));
    cgi.on('close', (code) => {
      if (code !== 0 || err) errors.push(`${req.method} ${url.pathname}: exit ${code}: ${err.trim()}`);
      res.end();
    });
  });
  if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    root,
    port,
    server,
    errors,
    url: (repo) => `http://127.0.0.1:${port}/${repo}`,
    createRepo(name) {
      const dir = path.join(root, name);
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir]);
      execFileSync('git', ['--git-dir', dir, 'config', 'http.receivepack', 'true']);
      return dir;
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!opts.root) rmSync(root, { recursive: true, force: true });
    }
  };
}
