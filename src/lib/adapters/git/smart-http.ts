/**
 * Git's smart HTTP protocol, the parts both directions share: pkt-lines, one authenticated exchange with a
 * remote (credentials asked through the binding once, never stored), and the ref advertisement.
 *
 *   GET  <url>/info/refs?service=<svc>   "# service=<svc>", flush, "<oid> <ref>\0<caps>", "<oid> <ref>", …, flush
 *
 * Browsers: every exchange is a cross-origin fetch, so the host must answer CORS (allow the origin, the
 * `authorization` and `content-type` headers, GET and POST) or the binding's `corsProxy` must point at a proxy.
 */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import type { GitBinding } from './binding.ts';

export const ZERO_OID = '0'.repeat(40);
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ExchangeState {
  auth?: string;
}

export function pkt(line: string): Uint8Array {
  const body = enc.encode(line);
  return enc.encode((body.length + 4).toString(16).padStart(4, '0') + line);
}

export const FLUSH = enc.encode('0000');

export function parsePkts(b: Uint8Array): string[] {
  const out: string[] = [];
  let i = 0;
  while (i + 4 <= b.length) {
    const n = parseInt(dec.decode(b.subarray(i, i + 4)), 16);
    if (!Number.isFinite(n) || (n > 0 && n < 4) || i + Math.max(n, 4) > b.length)
      throw new LedgerError(ErrorCode.REMOTE_UNREACHABLE, 'malformed pkt-line');
    if (n === 0) {
      out.push('');
      i += 4;
      continue;
    }
    out.push(dec.decode(b.subarray(i + 4, i + n)));
    i += n;
  }
  return out;
}

export async function collect(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  if (body) for await (const c of body) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const inBrowser = (): boolean =>
  typeof (globalThis as { document?: unknown }).document !== 'undefined' ||
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

/** One HTTP exchange, asking the binding for credentials once when the host wants them. */
export async function exchange(
  binding: GitBinding,
  url: string,
  req: { method: string; path: string; headers?: Record<string, string>; body?: Uint8Array },
  state: ExchangeState
): Promise<Uint8Array> {
  if (!binding.http) throw new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `no HTTP client to reach ${url}`);
  const base = binding.corsProxy ? `${binding.corsProxy.replace(/\/$/, '')}/${url.replace(/^https?:\/\//, '')}` : url;
  let clean: URL;
  try {
    clean = new URL(url);
  } catch {
    throw new LedgerError(ErrorCode.BAD_INPUT, `${url} is not a URL (give the remote's http:// or https:// address)`);
  }
  const inline = clean.username
    ? { username: decodeURIComponent(clean.username), password: decodeURIComponent(clean.password) }
    : undefined;
  if (inline && !state.auth) state.auth = 'Basic ' + btoa(`${inline.username}:${inline.password}`);
  const target = base.replace(/\/\/[^@/]*@/, '//').replace(/\/$/, '') + req.path;
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers: Record<string, string> = {
      ...(inBrowser() ? {} : { 'user-agent': 'git/provenance-ledger' }),
      ...req.headers
    };
    if (state.auth) headers.authorization = state.auth;
    let res;
    let body: Uint8Array;
    try {
      res = await binding.http.request({
        url: target,
        method: req.method,
        headers,
        body: req.body ? [req.body] : undefined
      });
      body = await collect(res.body);
    } catch (e) {
      const hint = inBrowser() ? ' (from a browser, the host must allow this page by CORS, or use a CORS proxy)' : '';
      throw new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `cannot reach ${url}: ${(e as Error).message}${hint}`, {
        cause: e
      });
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      if (state.auth || attempt > 0)
        throw new LedgerError(
          ErrorCode.REMOTE_AUTH,
          `${url} refused the credentials (set PROVENANCE_LEDGER_GIT_USERNAME and _PASSWORD, or _TOKEN)`
        );
      const c = await binding.credentials?.(url);
      if (!c)
        throw new LedgerError(
          ErrorCode.REMOTE_AUTH,
          `${url} wants credentials and none were given (set PROVENANCE_LEDGER_GIT_USERNAME and _PASSWORD, or _TOKEN)`
        );
      state.auth = 'Basic ' + btoa(`${c.username}:${c.password}`);
      continue;
    }
    if (res.statusCode !== 200)
      throw new LedgerError(
        ErrorCode.REMOTE_UNREACHABLE,
        `${url} answered HTTP ${res.statusCode} to ${req.method} ${req.path.replace(/\?.*/, '')}: it does not look like a Git smart-HTTP remote`
      );
    return body;
  }
  throw new LedgerError(ErrorCode.REMOTE_AUTH, `${url} refused the credentials`);
}

/** The refs a service (git-upload-pack, git-receive-pack) advertises: full ref name -> oid, and its capabilities. */
export async function advertisedRefs(
  binding: GitBinding,
  url: string,
  service: 'git-upload-pack' | 'git-receive-pack',
  state: ExchangeState = {}
): Promise<{ refs: Map<string, string>; caps: Set<string> }> {
  const body = await exchange(binding, url, { method: 'GET', path: `/info/refs?service=${service}` }, state);
  let lines: string[];
  try {
    lines = parsePkts(body);
  } catch {
    throw new LedgerError(
      ErrorCode.REMOTE_UNREACHABLE,
      `${url} did not answer as a Git smart-HTTP remote (no ref advertisement)`
    );
  }
  if (!lines[0]?.startsWith(`# service=${service}`))
    throw new LedgerError(
      ErrorCode.REMOTE_UNREACHABLE,
      `${url} did not answer as a Git smart-HTTP remote (no "# service=${service}")`
    );
  const refs = new Map<string, string>();
  let caps = new Set<string>();
  for (const line of lines.slice(1)) {
    const m = /^([0-9a-f]{40}) ([^\0\n]+)(?:\0([^\n]*))?/.exec(line);
    if (!m) continue;
    if (m[3] !== undefined) caps = new Set(m[3].split(' ').filter(Boolean));
    if (m[1] !== ZERO_OID && m[2] !== 'capabilities^{}') refs.set(m[2], m[1]);
  }
  return { refs, caps };
}
