/**
 * The Git journal's remotes over smart HTTP, in concept files: remote-auth.ts (names, credentials, errors),
 * quarantine.ts (what a refused fetch leaves: nothing), fetch.ts (pull: check every commit, then accept),
 * push.ts (never forced), clone.ts (a ledger from a remote alone).
 */
export { remoteName } from './remote-auth.ts';
export { pull, fetchAndAccept, NeedGenesis, type PullResult } from './fetch.ts';
export { push, type PushResult } from './push.ts';
export { clone } from './clone.ts';
export { pushSealed, sealedFetch, type SealedPushResult } from './sealed.ts';
