/**
 * The Node HTTP client of the Git journal (the binding's `http`, the shape isomorphic-git's clients have):
 * node:http / node:https over keep-alive agents, redirects followed, the response body streamed.
 *
 * A kept-alive socket the server closed while it sat idle in the pool (Node's and Apache's servers close idle
 * connections after 5 s; a push builds its pack between the ref advertisement and the POST, often for longer)
 * is handed out again before this process has read the close; the request then fails with EPIPE, ECONNRESET
 * or "socket hang up" before any byte of a response. Such a request is sent once more on a new connection.
 * That is safe for every Git exchange, git-receive-pack included: a server that closed the connection before
 * answering never read the request (it closed the socket because no request was under way), so nothing of it
 * was applied; and receive-pack's commands name each ref's old value, so even a request that had been applied
 * could not be applied twice (the repeat is refused as stale, and push pulls and tries again). A failure on a
 * fresh connection, or after a response began, is reported, never retried.
 */
import http from 'node:http';
import https from 'node:https';
import type { GitHttp } from './binding.ts';

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true })
};

/** Errors that mean the peer closed the socket under us (as opposed to refusing, timing out, DNS…). */
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export interface NodeHttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** The body's chunks (replayable: an array, a Uint8Array, or any iterable that can be walked again). */
  body?: Iterable<Uint8Array> | AsyncIterable<Uint8Array> | Uint8Array;
}

export interface NodeHttpResponse {
  url: string;
  method: string;
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array>;
}

/** Counts for tests and diagnostics: requests sent again after a reused socket was found closed. */
export const nodeHttpStats = { retriedOnClosedSocket: 0 };

async function bodyBytes(body: NodeHttpRequest['body']): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const parts: Uint8Array[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) parts.push(c);
  return parts.length === 1
    ? Buffer.from(parts[0].buffer, parts[0].byteOffset, parts[0].byteLength)
    : Buffer.concat(parts);
}

interface Sent {
  res: http.IncomingMessage;
}

function once(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  fresh: boolean
): Promise<Sent> {
  const mod = url.protocol === 'https:' ? https : http;
  const agent = agents[url.protocol as 'http:' | 'https:'];
  if (!agent) return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const h: Record<string, string | number> = { ...headers };
    if (body) h['content-length'] = body.length;
    // `fresh`: a connection of its own (agent: false), never one from the pool.
    const req = mod.request(url, { method, headers: h, agent: fresh ? false : agent });
    req.on('response', (res) => resolve({ res }));
    req.on('error', (e: NodeJS.ErrnoException) => {
      // Closed before any response byte, on a socket that had served an earlier request: the server dropped it
      // while it was idle, so it never read this request.
      const stale = req.reusedSocket && (CLOSED.has(e.code ?? '') || /socket hang up/.test(e.message));
      reject(Object.assign(e, { staleSocket: stale }));
    });
    req.end(body);
  });
}

export const nodeHttp: GitHttp & { request(req: NodeHttpRequest): Promise<NodeHttpResponse> } = {
  async request(r: NodeHttpRequest): Promise<NodeHttpResponse> {
    let url = new URL(r.url);
    let method = (r.method ?? 'GET').toUpperCase();
    const headers = { ...(r.headers ?? {}) };
    let body = await bodyBytes(r.body);
    for (let hops = 0; ; hops++) {
      let sent: Sent;
      try {
        sent = await once(url, method, headers, body, false);
      } catch (e) {
        if (!(e as { staleSocket?: boolean }).staleSocket) throw e;
        nodeHttpStats.retriedOnClosedSocket++;
        sent = await once(url, method, headers, body, true);
      }
      const { res } = sent;
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location && hops < 10) {
        res.resume();
        const next = new URL(location, url);
        if (next.origin !== url.origin) delete headers.authorization;
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          delete headers['content-type'];
        }
        url = next;
        continue;
      }
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
      return {
        url: url.toString(),
        method,
        statusCode: status,
        statusMessage: res.statusMessage ?? '',
        headers: flat,
        body: res as AsyncIterable<Uint8Array>
      };
    }
  }
};
