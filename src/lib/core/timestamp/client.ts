/**
 * Asking a time-stamping authority for a token (RFC 3161 section 3.4, the HTTP transport): one POST of a
 * TimeStampReq (`application/timestamp-query`), the TimeStampResp back (`application/timestamp-reply`). Only the
 * 32-byte message imprint and a random 8-byte nonce leave the device.
 *
 * With `via` (a relay's base http(s) URL, for a browser the TSA will not answer cross-origin) the request goes to
 * `<via>/timestamp?tsa=<the TSA's URL, encoded>` instead; the relay forwards the bytes as they are.
 * The answer is read up to MAX_RESPONSE_BYTES (64 KiB) and no further.
 *
 * Every failure to get an answer (HTTP error status, unreachable host, timeout) is a TimestampError
 * TSA_UNREACHABLE with a one-line message naming the status and the host; a response that is not a token for this
 * request fails as tokenFromResponse says (TSA_REJECTED, TSA_RESPONSE_MALFORMED, TSA_IMPRINT_MISMATCH,
 * TSA_NONCE_MISMATCH). Platform-free: fetch, AbortController and crypto.getRandomValues only.
 */
import { ErrorCode, LedgerError } from '../errors.ts';
import { TimestampError } from './errors.ts';
import { createTimestampRequest } from './request.ts';
import { MAX_RESPONSE_BYTES, tokenFromResponse } from './response.ts';

export const DEFAULT_TIMEOUT_MS = 15_000;

export interface RequestTimestampOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** A relay's base http(s) URL: the request is posted to `${via}/timestamp?tsa=${encodeURIComponent(tsaUrl)}`. */
  via?: string;
}

const unreachable = (message: string, cause?: unknown) =>
  new TimestampError('TSA_UNREACHABLE', oneLine(message), { cause });
const oneLine = (s: string) =>
  s
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .trim()
    .slice(0, 300);

/** Parses an http(s) URL given for a TSA or a relay; BAD_INPUT when it is not one (nothing is sent). */
export function httpUrl(text: string, what: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `${what} ${JSON.stringify(oneLine(String(text)).slice(0, 100))} is not an http(s) URL`
    );
  }
  return url;
}

/** Where the request is posted: the TSA itself, or the relay's /timestamp endpoint for it. */
export function timestampEndpoint(tsaUrl: string, via?: string): URL {
  const tsa = httpUrl(tsaUrl, 'TSA');
  if (via === undefined) return tsa;
  const relay = httpUrl(via, 'relay');
  return new URL(`${relay.href.replace(/\/+$/, '')}/timestamp?tsa=${encodeURIComponent(tsa.href)}`);
}

/** Requests a time-stamp token over `imprint` (SHA-256, 32 bytes) from the TSA; resolves to the token's DER. */
export async function requestTimestamp(
  tsaUrl: string,
  imprint: Uint8Array,
  opts: RequestTimestampOptions = {}
): Promise<Uint8Array> {
  const endpoint = timestampEndpoint(tsaUrl, opts.via);
  const who = opts.via === undefined ? endpoint.host : `relay ${endpoint.host} (for ${new URL(tsaUrl).host})`;
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(8));
  const body = createTimestampRequest(imprint, nonce);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  let response: Uint8Array;
  try {
    let res: Response;
    try {
      res = await doFetch(endpoint.href, {
        method: 'POST',
        headers: { 'Content-Type': 'application/timestamp-query', Accept: 'application/timestamp-reply' },
        body: body as Uint8Array<ArrayBuffer>,
        signal: abort.signal,
        credentials: 'omit'
      });
    } catch (e) {
      if (timedOut) throw unreachable(`${who} did not answer within ${timeoutMs / 1000} s`, e);
      throw unreachable(`${who} is unreachable: ${reason(e)}`, e);
    }
    if (!res.ok) {
      // A relay says why in one line of text (the TSA's own status, a TSA it does not forward to): shown, bounded
      // and without control characters; anything else is dropped.
      let why = '';
      if (opts.via !== undefined && (res.headers.get('content-type') ?? '').startsWith('text/plain')) {
        why = await readBounded(res, 1024, who).then(
          (b) =>
            new TextDecoder()
              .decode(b)
              .split('\n')[0]
              .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')
              .trim()
              .slice(0, 200),
          () => ''
        );
      } else await res.body?.cancel().catch(() => {});
      throw unreachable(
        `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${who}${why ? `: ${why}` : ''}`
      );
    }
    try {
      response = await readBounded(res, MAX_RESPONSE_BYTES, who);
    } catch (e) {
      if (e instanceof TimestampError) throw e;
      if (timedOut) throw unreachable(`${who} did not send its answer within ${timeoutMs / 1000} s`, e);
      throw unreachable(`the answer from ${who} broke off: ${reason(e)}`, e);
    }
  } finally {
    clearTimeout(timer);
  }
  return tokenFromResponse(response, { imprint, nonce });
}

/** The body, refusing more than `max` bytes (TSA_RESPONSE_MALFORMED) without reading them. */
async function readBounded(res: Response, max: number, who: string): Promise<Uint8Array> {
  const tooLarge = () =>
    new TimestampError(
      'TSA_RESPONSE_MALFORMED',
      `the answer from ${who} is larger than ${max / 1024} KiB: not a time-stamp response`
    );
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A fetch failure's cause in a few words (Node puts ECONNREFUSED and the like in `cause`). */
function reason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return oneLine(cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e));
}
