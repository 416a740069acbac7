/**
 * The relay's time-stamp forwarder: public time-stamping authorities (RFC 3161 TSAs) send no CORS headers, so a
 * web page cannot POST to them; the relay does it for the TSAs its operator allows, on the same port as its
 * WebSocket server.
 *
 *   GET     /timestamp            {"tsas": [...]}: the TSAs this relay forwards to
 *   POST    /timestamp?tsa=<url>  body: a DER TimeStampReq (at most 1 KiB) that parseTimestampRequest accepts
 *                                 (a SHA-256 imprint and nothing that says more about the device); forwarded
 *                                 to <url> only when it is exactly one of the allowed TSAs (as URLs: the
 *                                 serialized forms are compared); the TSA's answer
 *                                 (at most 64 KiB) comes back as application/timestamp-reply
 *   OPTIONS /timestamp            the CORS preflight
 *
 * Failures are one line of text/plain: 400 not a time-stamp request, 403 a TSA this relay does not forward to,
 * 413 a request over 1 KiB, 429 over the per-address rate (a token bucket: 10 a minute, bursts of 20), 502 the
 * TSA failed (unreachable, an HTTP error named by its status, an answer over 64 KiB), 503 too many requests under
 * way, 504 no answer within 15 s. Every answer carries `Access-Control-Allow-Origin: *` (the relay holds no
 * credentials and answers nothing private). Nothing of a request is logged: the log callback gets the TSA and
 * the outcome only, never the imprint or the client's address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseTimestampRequest } from '../lib/core/timestamp/request.ts';

export const TIMESTAMP_PATH = '/timestamp';
export const MAX_TIMESTAMP_REQUEST = 1024;
export const MAX_TIMESTAMP_REPLY = 64 * 1024;
export const TIMESTAMP_TIMEOUT_MS = 15_000;

export interface TimestampForwardOptions {
  /** The TSAs' URLs this relay forwards to (compared exactly). */
  allow: readonly string[];
  /** How long a TSA has to answer, in ms (15 s). */
  timeoutMs?: number;
  /** Requests an address may make per minute (sustained, 10) and the burst above it (20). */
  perMinute?: number;
  burst?: number;
  /** Forwards under way at once (32); more are answered 503. */
  maxConcurrent?: number;
  /** Checks a request's DER (throws when it is not an acceptable TimeStampReq): parseTimestampRequest. */
  check?: (der: Uint8Array) => unknown;
  fetch?: typeof fetch;
  /** One line per forward: the TSA and the outcome (never the imprint, never the address). */
  log?: (line: string) => void;
}

export interface TimestampForwarder {
  /** Answers the request when it is for /timestamp (returns true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Forwarded so far (answered by a TSA with a 2xx). */
  stats(): { forwarded: number; refused: number };
}

/**
 * A TSA's address in its one written form (the WHATWG URL serialization: `http://tsa.example` and
 * `http://tsa.example/` are one address, as the web app's client writes it); throws when it is not an http(s) URL.
 */
export function tsaAddress(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`not a TSA address: ${oneLine(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`a TSA address must be http:// or https://: ${oneLine(text)}`);
  if (url.username || url.password) throw new Error(`a TSA address must not carry credentials: ${url.host}`);
  if (url.hash) throw new Error(`a TSA address has no #fragment: ${oneLine(text)}`);
  return url.href;
}

/** The allowed TSAs from `PL_RELAY_TSA` (space-separated) and `--tsa` arguments: http(s) URLs, without duplicates. */
export function tsaAllowList(env: string | undefined, args: readonly string[] = []): string[] {
  const all = [...(env ?? '').split(/\s+/), ...args].map((s) => s.trim()).filter(Boolean);
  return [...new Set(all.map(tsaAddress))];
}

/** Text for a one-line answer or log line: control characters replaced, at most 200 characters. */
function oneLine(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 199)}…` : t;
}

class Bucket {
  tokens: number;
  last: number;
  constructor(burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type'
} as const;

const COMMON = {
  ...CORS,
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff'
} as const;

class HttpFailure extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function createTimestampForwarder(o: TimestampForwardOptions): TimestampForwarder {
  const allow = new Set(o.allow.map(tsaAddress));
  const list = [...allow];
  const timeoutMs = o.timeoutMs ?? TIMESTAMP_TIMEOUT_MS;
  const perSecond = (o.perMinute ?? 10) / 60;
  const burst = o.burst ?? 20;
  const maxConcurrent = o.maxConcurrent ?? 32;
  const check = o.check ?? parseTimestampRequest;
  const doFetch = o.fetch ?? fetch;
  const log = o.log ?? (() => undefined);
  const buckets = new Map<string, Bucket>();
  let running = 0;
  let forwarded = 0;
  let refused = 0;

  /** Takes one token from the address's bucket; false when it is empty. */
  function admit(address: string): boolean {
    const now = Date.now();
    let b = buckets.get(address);
    if (!b) {
      // Forget full buckets (they say nothing an empty map would not) before the map grows large.
      if (buckets.size >= 10_000) {
        for (const [k, v] of buckets) if (v.tokens + ((now - v.last) / 1000) * perSecond >= burst) buckets.delete(k);
        if (buckets.size >= 10_000) buckets.delete(buckets.keys().next().value!);
      }
      buckets.set(address, (b = new Bucket(burst, now)));
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.last) / 1000) * perSecond);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  function send(
    res: ServerResponse,
    status: number,
    body: string | Uint8Array,
    type: string,
    extra: Record<string, string> = {}
  ): void {
    if (res.headersSent) return void res.destroy();
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(status, { ...COMMON, 'Content-Type': type, 'Content-Length': String(bytes.length), ...extra });
    res.end(bytes);
  }

  const fail = (res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}) => {
    refused++;
    send(res, status, `${oneLine(message)}\n`, 'text/plain; charset=utf-8', extra);
  };

  /** The request body, at most MAX_TIMESTAMP_REQUEST bytes (413 otherwise). */
  function readBody(req: IncomingMessage): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > MAX_TIMESTAMP_REQUEST) {
        return reject(new HttpFailure(413, `a time-stamp request is at most ${MAX_TIMESTAMP_REQUEST} bytes`));
      }
      const parts: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (c: Buffer) => {
        if (done) return;
        size += c.length;
        if (size > MAX_TIMESTAMP_REQUEST) {
          done = true;
          req.pause();
          return reject(new HttpFailure(413, `a time-stamp request is at most ${MAX_TIMESTAMP_REQUEST} bytes`));
        }
        parts.push(c);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        resolve(new Uint8Array(Buffer.concat(parts)));
      });
      req.on('error', (e) => {
        if (done) return;
        done = true;
        reject(e);
      });
    });
  }

  /** The TSA's answer, at most MAX_TIMESTAMP_REPLY bytes, within the time left. */
  async function forward(tsa: string, der: Uint8Array): Promise<Uint8Array> {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), timeoutMs);
    try {
      let r: Response;
      try {
        r = await doFetch(tsa, {
          method: 'POST',
          headers: { 'Content-Type': 'application/timestamp-query', Accept: 'application/timestamp-reply' },
          body: der as Uint8Array<ArrayBuffer>,
          // A redirect would send the request where the operator did not allow it.
          redirect: 'manual',
          signal: ctrl.signal
        });
      } catch {
        if (ctrl.signal.aborted)
          throw new HttpFailure(504, `the TSA did not answer within ${Math.round(timeoutMs / 1000)} s`);
        throw new HttpFailure(502, 'the TSA could not be reached');
      }
      if (r.status < 200 || r.status > 299) {
        await r.body?.cancel().catch(() => undefined);
        throw new HttpFailure(502, `the TSA answered HTTP ${r.status}`);
      }
      const declared = Number(r.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > MAX_TIMESTAMP_REPLY) {
        await r.body?.cancel().catch(() => undefined);
        throw new HttpFailure(502, `the TSA's answer is larger than ${MAX_TIMESTAMP_REPLY / 1024} KiB`);
      }
      const parts: Uint8Array[] = [];
      let size = 0;
      if (r.body) {
        const reader = r.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            size += value.length;
            if (size > MAX_TIMESTAMP_REPLY) {
              await reader.cancel().catch(() => undefined);
              throw new HttpFailure(502, `the TSA's answer is larger than ${MAX_TIMESTAMP_REPLY / 1024} KiB`);
            }
            parts.push(value);
          }
        } catch (e) {
          if (e instanceof HttpFailure) throw e;
          if (ctrl.signal.aborted)
            throw new HttpFailure(504, `the TSA did not answer within ${Math.round(timeoutMs / 1000)} s`);
          throw new HttpFailure(502, 'the TSA broke off its answer');
        }
      }
      if (size === 0) throw new HttpFailure(502, 'the TSA answered with nothing');
      return Buffer.concat(parts);
    } finally {
      clearTimeout(timer);
    }
  }

  async function post(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!admit(req.socket.remoteAddress ?? '')) {
      req.resume();
      return fail(res, 429, 'too many time-stamp requests from this address: try again in a minute', {
        'Retry-After': '60',
        Connection: 'close'
      });
    }
    const asked = url.searchParams.get('tsa');
    if (!asked) {
      req.resume();
      return fail(res, 400, 'name the TSA: POST /timestamp?tsa=<its URL>');
    }
    let tsa: string | undefined;
    try {
      tsa = tsaAddress(asked);
    } catch {
      tsa = undefined;
    }
    // Only ever one of the operator's own addresses is fetched, never the string the request brought.
    if (tsa === undefined || !allow.has(tsa)) {
      req.resume();
      return fail(
        res,
        403,
        list.length
          ? 'this relay does not forward to that TSA (GET /timestamp lists those it does)'
          : 'this relay forwards time-stamp requests to no TSA'
      );
    }
    if (running >= maxConcurrent) {
      req.resume();
      return fail(res, 503, 'too many time-stamp requests under way: try again shortly', { 'Retry-After': '5' });
    }
    running++;
    try {
      const der = await readBody(req);
      try {
        check(der);
      } catch (e) {
        throw new HttpFailure(
          400,
          `not a time-stamp request this relay forwards: ${e instanceof Error ? e.message : String(e)}`
        );
      }
      const reply = await forward(tsa, der);
      forwarded++;
      log(`timestamp: ${oneLine(tsa)} answered (${reply.length} bytes)`);
      send(res, 200, reply, 'application/timestamp-reply');
    } catch (e) {
      if (e instanceof HttpFailure) {
        if (e.status >= 500) log(`timestamp: ${oneLine(tsa)}: ${e.message}`);
        // A body cut short at 413 is not read further: the connection goes.
        return fail(res, e.status, e.message, e.status === 413 ? { Connection: 'close' } : {});
      }
      log(`timestamp: ${oneLine(tsa)}: request failed`);
      fail(res, 400, 'the request broke off');
    } finally {
      running--;
    }
  }

  return {
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://relay.invalid');
      if (url.pathname !== TIMESTAMP_PATH) return false;
      switch (req.method) {
        case 'OPTIONS': {
          const headers: Record<string, string> = { ...CORS, 'Access-Control-Max-Age': '600', 'Content-Length': '0' };
          // A page on a public origin reaching a relay on this machine or network (Private Network Access).
          if (req.headers['access-control-request-private-network'] === 'true')
            headers['Access-Control-Allow-Private-Network'] = 'true';
          req.resume();
          res.writeHead(204, headers);
          res.end();
          return true;
        }
        case 'GET':
        case 'HEAD':
          req.resume();
          send(res, 200, `${JSON.stringify({ tsas: list })}\n`, 'application/json; charset=utf-8');
          return true;
        case 'POST':
          void post(req, res, url).catch(() => res.destroy());
          return true;
        default:
          req.resume();
          fail(res, 405, 'use GET or POST', { Allow: 'POST, GET, OPTIONS' });
          return true;
      }
    },
    stats: () => ({ forwarded, refused })
  };
}
