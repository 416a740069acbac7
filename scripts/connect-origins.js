/**
 * The origins the app's Content-Security-Policy lets it connect to beyond this machine (vite.config.ts for the
 * pages, scripts/serve.js for the worker): PL_RELAY_ORIGINS (team relays, space-separated; a ws(s):// relay also
 * answers time-stamp requests over http(s) on the same host and port, so that origin comes along) and
 * PL_GIT_ORIGINS (Git remotes or CORS proxies of the journal).
 */
export function connectOrigins(env = process.env) {
  const words = (v) => (v ?? '').split(/\s+/).filter(Boolean);
  const relays = words(env.PL_RELAY_ORIGINS).flatMap((o) =>
    o.startsWith('wss://') ? [o, `https://${o.slice(6)}`] : o.startsWith('ws://') ? [o, `http://${o.slice(5)}`] : [o]
  );
  return [...new Set([...relays, ...words(env.PL_GIT_ORIGINS)])];
}
