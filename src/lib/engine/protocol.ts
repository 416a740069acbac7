/**
 * The messages between the page (LedgerSession) and the ledger worker.
 *
 * Requests are a union keyed on `type`; each carries a numeric `id` that its one reply repeats. A reply is
 * `{ ok: true, result }` or `{ ok: false, error: { code, message } }`: errors cross the boundary as plain
 * objects with a stable code, never as Error instances (structured clone drops their class and fields).
 * Long requests may send `progress` messages before their reply.
 */
import type { LedgerEvent } from '../core/event.ts';
import type { VerifyReport } from '../core/verify.ts';
import type { BundleRequest, BundleResults } from './bundle-requests.ts';
import type { JournalRequest, JournalResults } from './browser-journal.ts';
import type { KeyBackup } from '../core/backup.ts';
import type { CustodyInput } from './custody.ts';
import type { FileRef } from './files.ts';
import type { TeamRequest, TeamResults } from './team-protocol.ts';
import type { TimestampRequest, TimestampResults } from './timestamps.ts';
import type { DashboardFacts } from '../core/dashboard.ts';
import { CodedError } from '../core/errors.ts';

export const PROTOCOL_VERSION = 1;

export const CLASSIFICATIONS = ['public', 'personal', 'confidential', 'client'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const GENERATION_MODES = [
  'text-to-3d',
  'image-to-3d',
  'multiview-to-3d',
  'text-to-texture',
  'retexture',
  'other'
] as const;
export type GenerationMode = (typeof GENERATION_MODES)[number];

/** What the generation form collects. Files cross to the worker by structured clone (no copy of bytes). */
export interface GenerationInput {
  platform: string;
  modelVersion?: string;
  mode: GenerationMode;
  /** The prompt text: only its salted commitment enters the ledger; prompt and salt go to the local vault. */
  prompt?: string;
  project: string;
  classification: Classification;
  /** On, off, or absent: not recorded (nothing is claimed without the user's choice). */
  trainingOptOut?: boolean;
  privacyMode?: boolean;
  seed?: string;
  outputs: File[];
  inputs: File[];
  /** Per output file (same order), the model set it belongs to and its role in the set (glTF + .bin + textures). */
  outputMeta?: FileMeta[];
  /** The checklist event that applied. */
  checklist?: string;
  /** The policy-snapshot events in force. */
  policySnapshots?: string[];
}

export interface FileMeta {
  set?: string;
  role?: string;
}

/** A checklist as the checklist form collects it (the checklist event body, checked by the core's schema). */
export interface ChecklistInput {
  project: string;
  classification: Classification;
  client?: string;
  platform?: { name: string; modelVersion?: string };
  policySnapshots: string[];
  items: {
    classified: boolean;
    policiesReviewed: boolean;
    privacySettingsEnabled: boolean;
    inputsSanitized: boolean;
    ndaChecked?: boolean;
  };
  settingsEnabled?: string[];
  notes?: string;
}

/**
 * A policy snapshot as the policies page collects it. The host hashes `text` (UTF-8), keeps it on the
 * device under texts/<sha256>, and appends the event with `text: { sha256, size, mediaType }`.
 */
export interface PolicyInput {
  /** The document exactly as pasted or dropped (HTML stays HTML; the page converts it for reading). */
  text: string;
  mediaType: 'text/plain' | 'text/html';
  /** The rest of the policy-snapshot body (platform, kind, answers, previous, changes, ...), without `text`. */
  body: Record<string, unknown>;
}

export interface LedgerInfo {
  id: string;
  name: string;
}

export interface MemberInfo {
  name: string;
  publicKey: string;
}

/**
 * A ledger's state as the host has it (`events`: every event) and, in the worker's answers to the page, as the
 * page gets it (pageState in host.ts): `events` empty, `count` and the dashboard's `facts` instead, and the
 * events as JSON lines only when the open asked for them (`withEvents`). The page pulls the event list in pages
 * (`events` requests) when a page needs it; the dashboard never does.
 */
export type EngineState =
  | { state: 'empty' }
  | {
      state: 'ready';
      ledger: LedgerInfo;
      member: MemberInfo | null;
      events: LedgerEvent[];
      /** How many events the ledger holds (set in the page's form, where `events` is empty). */
      count?: number;
      /** What the dashboard shows, summed over every event in the worker (core/dashboard.ts). */
      facts?: DashboardFacts;
      /** Every event as JSON lines, oldest first (an open with `withEvents`): one string, parsed in slices on the page. */
      eventsJsonl?: string;
      /** The ledger's change counter (see EventsPage.version). */
      version?: number;
    };

/** A page of the event list (oldest first) as JSON lines, one event a line. */
export interface EventsPage {
  /** Events in the ledger now. */
  total: number;
  /** Changes whenever the list changes: pages with different versions do not belong together. */
  version: number;
  offset: number;
  jsonl: string;
}

/**
 * Sent by the worker, unasked, after events were stored (appended here, received from a peer, imported):
 * the new count and dashboard facts, and the new events themselves (null when too many to send: reload).
 */
export interface ChangeNotice {
  version: number;
  count: number;
  facts: DashboardFacts;
  added: LedgerEvent[] | null;
}

export type Request =
  | { type: 'open'; withEvents?: boolean }
  | { type: 'events'; offset: number; limit: number }
  | { type: 'create'; memberName: string; ledgerName: string; backupPassphrase?: string }
  | { type: 'record-generation'; input: GenerationInput }
  | { type: 'verify' }
  | { type: 'record-checklist'; input: ChecklistInput }
  | { type: 'record-policy'; input: PolicyInput }
  | { type: 'policy-text'; sha256: string }
  // Asset, Verify and Settings pages
  | { type: 'hash-files'; files: File[] }
  | { type: 'trace'; hashes: string[] }
  | { type: 'record-custody'; input: CustodyInput }
  | { type: 'identity' }
  | { type: 'key-backup' }
  | { type: 'restore-key'; backup: unknown; passphrase: string }
  | { type: 'export-ledger' }
  | { type: 'import-ledger'; file: Blob }
  | { type: 'full-backup'; passphrase: string }
  | { type: 'full-restore'; file: Blob; passphrase: string }
  | { type: 'vault'; action: VaultAction; passphrase?: string; current?: string }
  // Evidence bundles: Verify and Asset pages (bundle-requests.ts)
  | BundleRequest
  // Team page (team-protocol.ts)
  | TeamRequest
  // The Git journal in IndexedDB: status, push, pull (browser-journal.ts)
  | JournalRequest
  // Trusted time: RFC 3161 time-stamps of the device log's checkpoints (timestamps.ts)
  | TimestampRequest;

/** The device's signing identity, as the settings page shows it. */
export interface IdentityInfo {
  memberName: string;
  publicKey: string;
  /** First 16 hex digits of SHA-256(public key). */
  fingerprint: string;
  createdAt: string;
  /** When the key was made with a backup passphrase: the encrypted backup (never the key itself). */
  hasBackup: boolean;
}

export type VaultAction = 'status' | 'set' | 'unlock' | 'lock';

export interface VaultStatus {
  /** A passphrase protects the prompt vault. */
  protected: boolean;
  /** The vault key is in the worker's memory (prompts can be saved and read). */
  unlocked: boolean;
  entries: number;
}

export interface ImportResult {
  ledgerName: string;
  /** Events new to this device. */
  accepted: number;
  /** Events this device already held. */
  already: number;
  state: EngineState;
}

/** What restoring a complete backup added (nothing when the device already held all of it). */
export interface RestoreResult {
  ledgerName: string;
  /** Events new to this device, and those it already held. */
  accepted: number;
  already: number;
  texts: number;
  prompts: number;
  /** The backup's device key became this device's key (a device without a ledger). */
  keyRestored: boolean;
  /** Team key epochs new to this device (they open the sealed journal). */
  teamKeys: number;
  state: EngineState;
}

/** The result type of each request type. */
export interface Results extends TeamResults, BundleResults, JournalResults, TimestampResults {
  open: EngineState;
  events: EventsPage;
  create: EngineState;
  'record-generation': LedgerEvent;
  verify: VerifyReport;
  'record-checklist': LedgerEvent;
  'record-policy': LedgerEvent;
  /** The locally kept text of a policy snapshot, or null when this device does not hold it. */
  'policy-text': string | null;
  'hash-files': FileRef[];
  /** The chain of custody of the given file hashes, oldest first. */
  trace: LedgerEvent[];
  'record-custody': LedgerEvent;
  identity: IdentityInfo | null;
  'key-backup': KeyBackup;
  'restore-key': EngineState;
  'export-ledger': { text: string; filename: string; events: number };
  'import-ledger': ImportResult;
  /** The complete backup (core/full-backup.ts): the file's text and a name for it. */
  'full-backup': { text: string; filename: string; events: number; texts: number; prompts: number };
  'full-restore': RestoreResult;
  vault: VaultStatus;
}

export type RequestType = Request['type'];
export type RequestOf<T extends RequestType> = Extract<Request, { type: T }>;

export interface RequestMessage {
  v: typeof PROTOCOL_VERSION;
  id: number;
  request: Request;
}

/** An error as it crosses the worker boundary. `code` is a core ErrorCode or one of EngineErrorCode. */
export interface ErrorInfo {
  code: string;
  message: string;
  eventId?: string;
}

export const EngineErrorCode = {
  INTERNAL: 'ENGINE_INTERNAL',
  PROTOCOL: 'ENGINE_PROTOCOL',
  UNAVAILABLE: 'ENGINE_UNAVAILABLE',
  NO_IDENTITY: 'NO_DEVICE_IDENTITY'
} as const;

export interface Progress {
  /** What is being done, for a status line: "Hashing model.glb". */
  label: string;
  done: number;
  total: number;
}

export type ResponseMessage =
  | { v: typeof PROTOCOL_VERSION; id: number; kind: 'result'; ok: true; result: unknown }
  | { v: typeof PROTOCOL_VERSION; id: number; kind: 'result'; ok: false; error: ErrorInfo }
  | { v: typeof PROTOCOL_VERSION; id: number; kind: 'progress'; progress: Progress };

/** A message the worker sends unasked (no request id). */
export interface NoticeMessage {
  v: typeof PROTOCOL_VERSION;
  kind: 'notice';
  notice: ChangeNotice;
}

export function isResponseMessage(m: unknown): m is ResponseMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return r.v === PROTOCOL_VERSION && typeof r.id === 'number' && (r.kind === 'result' || r.kind === 'progress');
}

export function isNoticeMessage(m: unknown): m is NoticeMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return r.v === PROTOCOL_VERSION && r.kind === 'notice' && typeof r.notice === 'object' && r.notice !== null;
}

export function isRequestMessage(m: unknown): m is RequestMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    r.v === PROTOCOL_VERSION &&
    typeof r.id === 'number' &&
    typeof r.request === 'object' &&
    r.request !== null &&
    typeof (r.request as { type?: unknown }).type === 'string'
  );
}

/** An engine failure on the page side: the ErrorInfo from the worker, as a CodedError with its code. */
export class EngineError extends CodedError {
  constructor(info: ErrorInfo) {
    super(info.code, info.message, { eventId: info.eventId });
    this.name = 'EngineError';
  }
  /** The ErrorInfo it was made from. */
  override toJSON(): ErrorInfo {
    return { code: this.code, message: this.message, eventId: this.eventId };
  }
}

/** Turns anything thrown into an ErrorInfo, keeping the stable code of LedgerError-like values. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (typeof e === 'object' && e !== null) {
    const r = e as { code?: unknown; message?: unknown; eventId?: unknown };
    const message = typeof r.message === 'string' ? r.message : String(e);
    if (typeof r.code === 'string') {
      return { code: r.code, message, ...(typeof r.eventId === 'string' ? { eventId: r.eventId } : {}) };
    }
    return { code: EngineErrorCode.INTERNAL, message };
  }
  return { code: EngineErrorCode.INTERNAL, message: String(e) };
}
