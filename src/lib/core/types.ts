/**
 * TypeScript shapes of the unsigned event and of each event body. The JSON Schemas in ledger-schema/ are the
 * authority (tests/unit/core/schema.test.ts checks that the enums below match them); these types describe a
 * value that validateEvent() accepted. Values straight from a peer or a file are `unknown` until then.
 *
 * Every optional field is absent rather than empty: the schemas reject "" and (except where noted) empty
 * arrays are allowed only for the lists that are required.
 */

/** The `spec` of every event this version writes and reads. */
export const EVENT_SPEC = 'provenance-ledger/event/v1';

/** Event types, in the order of ledger-schema/README.md section 7. */
export const EVENT_TYPES = [
  'generation',
  'policy-snapshot',
  'checklist',
  'export',
  'derivation',
  'handoff',
  'deletion',
  'member'
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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

export const VISIBILITIES = ['public', 'private', 'unlisted'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export const POLICY_KINDS = ['privacy-policy', 'terms-of-service', 'dpa', 'model-license', 'other'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export const POLICY_ANSWERS = ['yes', 'no', 'unclear', 'not-stated'] as const;
export type PolicyAnswerValue = (typeof POLICY_ANSWERS)[number];

export const POLICY_TEXT_MEDIA_TYPES = ['text/plain', 'text/html'] as const;
export type PolicyTextMediaType = (typeof POLICY_TEXT_MEDIA_TYPES)[number];

export const DESTINATION_KINDS = ['encrypted-drive', 'nas', 'backup', 'local', 'cloud-storage', 'other'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export const DERIVATION_OPERATIONS = [
  'retopology',
  'texturing',
  'rigging',
  'uv-unwrap',
  'decimation',
  'sculpting',
  'format-conversion',
  'compositing',
  'other'
] as const;
export type DerivationOperation = (typeof DERIVATION_OPERATIONS)[number];

export const DELETION_STATUSES = ['requested', 'confirmed', 'failed'] as const;
export type DeletionStatus = (typeof DELETION_STATUSES)[number];

export const EVIDENCE_KINDS = ['email', 'screenshot', 'api-response', 'other'] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

export const MEMBER_ACTIONS = ['create', 'add', 'update', 'remove'] as const;
export type MemberAction = (typeof MEMBER_ACTIONS)[number];

export const MEMBER_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

/** The prompt commitment algorithm (ledger-schema/README.md section 8). */
export const PROMPT_COMMITMENT_ALG = 'sha256-salt32-utf8-v1';

/** 64 lowercase hex characters: a SHA-256 digest (file hash, text hash, commitment). */
export type Sha256Hex = string;
/** 64 lowercase hex characters: an event id as it appears inside JSON (event.ts brands it as EventId). */
export type EventIdHex = string;
/** A raw Ed25519 public key, base64url without padding (43 characters). */
export type PublicKeyB64u = string;
/** `YYYY-MM-DDTHH:MM:SS.sssZ` */
export type Timestamp = string;

/** One file, by content hash. Files never enter the ledger. */
export interface FileRef {
  /** A file name without directories. */
  name: string;
  /** Lowercase extension-like word: glb, gltf, bin, fbx, obj, mtl, usdz, stl, png, jpg, ktx2, zip... */
  format: string;
  /** Bytes. */
  size: number;
  sha256: Sha256Hex;
  mediaType?: string;
  /** Shared by the files that form one model: a .gltf, its .bin and its textures all carry "robot.gltf". */
  set?: string;
  /** model, texture, buffer, material, reference, preview... */
  role?: string;
}

export interface Platform {
  name: string;
  modelVersion?: string;
  url?: string;
}

export interface PlatformSite {
  name: string;
  url?: string;
}

export interface PromptCommitment {
  alg: typeof PROMPT_COMMITMENT_ALG;
  commitment: Sha256Hex;
}

export interface GenerationSettings {
  /** true: was on; false: was off; absent: not recorded (the author said neither). */
  trainingOptOut?: boolean;
  /** true: was on; false: was off; absent: not recorded. */
  privacyMode?: boolean;
  seed?: string;
  visibility?: Visibility;
  /** At most 32 entries; names match /^[A-Za-z0-9_.-]{1,64}$/. */
  extra?: Record<string, string | boolean | number>;
}

export interface GenerationBody {
  platform: Platform;
  mode: GenerationMode;
  prompt?: PromptCommitment;
  negativePrompt?: PromptCommitment;
  inputs: FileRef[];
  /** At least one. */
  outputs: FileRef[];
  settings: GenerationSettings;
  project: string;
  classification: Classification;
  client?: string;
  /** The checklist event that applied. */
  checklist?: EventIdHex;
  /** The policy-snapshot events in force. */
  policySnapshots: EventIdHex[];
  platformJobId?: string;
  generatedAt?: Timestamp;
  asset?: { title?: string; tags?: string[] };
  notes?: string;
}

export interface PolicyAnswer {
  answer: PolicyAnswerValue;
  excerpt?: string;
}

export interface RetentionAnswer extends PolicyAnswer {
  /** Days files are kept after deletion, when the policy says. */
  days?: number;
}

export interface PolicyAnswers {
  trainingOnInputs: PolicyAnswer;
  trainingOnOutputs: PolicyAnswer;
  optOutAvailable: PolicyAnswer;
  retentionAfterDeletion: RetentionAnswer;
  thirdPartySharing: PolicyAnswer;
  internalAccess: PolicyAnswer;
  /** Optional questions (absent: not answered). Does the user own the generated outputs? */
  outputsOwned?: PolicyAnswer;
  /** Does the platform take a licence to the user's inputs or outputs beyond running the service? */
  contentLicense?: PolicyAnswer;
  /** Does the platform say what its models are trained on? */
  trainingDataDisclosed?: PolicyAnswer;
  /** Does the platform commit to data protection terms (a DPA, GDPR, CCPA)? */
  dataProtectionCommitments?: PolicyAnswer;
}

export interface PolicySnapshotBody {
  platform: PlatformSite;
  kind: PolicyKind;
  documentUrl?: string;
  retrievedAt: Timestamp;
  /** The text stays on the device; the ledger holds its hash. */
  text: { sha256: Sha256Hex; size: number; mediaType: PolicyTextMediaType };
  version?: string;
  answers: PolicyAnswers;
  /** The previous snapshot of the same platform and kind. Required when `changes` is present. */
  previous?: EventIdHex;
  changes?: { summary?: string; changedSections?: number; addedChars?: number; removedChars?: number };
  reviewedBy?: string;
  notes?: string;
}

export interface ChecklistItems {
  classified: boolean;
  policiesReviewed: boolean;
  privacySettingsEnabled: boolean;
  inputsSanitized: boolean;
  ndaChecked?: boolean;
}

export interface ChecklistBody {
  project: string;
  classification: Classification;
  client?: string;
  platform?: Platform;
  policySnapshots: EventIdHex[];
  items: ChecklistItems;
  settingsEnabled?: string[];
  notes?: string;
}

export interface ExportDestination {
  /** A label, never a path. */
  label: string;
  kind: DestinationKind;
  encrypted: boolean;
}

export interface ExportBody {
  generation?: EventIdHex;
  /** At least one. */
  files: FileRef[];
  destination: ExportDestination;
  exportedAt?: Timestamp;
  notes?: string;
}

export interface DerivationBody {
  /** The earlier files; at least one. (Not the event's `parents`, which are event ids.) */
  parents: FileRef[];
  /** At least one. */
  outputs: FileRef[];
  tool: { name: string; version?: string };
  operation: DerivationOperation;
  sources?: EventIdHex[];
  notes?: string;
}

export interface HandoffBody {
  /** At least one. */
  files: FileRef[];
  recipient: { name: string; organization?: string; contact?: string };
  derivedFrom?: EventIdHex[];
  deliveredAt?: Timestamp;
  channel?: string;
  terms?: string;
  project?: string;
  notes?: string;
}

export interface DeletionTarget {
  generation?: EventIdHex;
  platformJobId?: string;
  files?: Sha256Hex[];
}

export interface DeletionBody {
  platform: PlatformSite;
  /** At least one of its fields. */
  target: DeletionTarget;
  status: DeletionStatus;
  evidence?: { sha256: Sha256Hex; kind: EvidenceKind; size?: number; mediaType?: string };
  requestedAt?: Timestamp;
  /** Only when status is confirmed. */
  confirmedAt?: Timestamp;
  notes?: string;
}

export interface MemberEntry {
  /** Stable member id: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/. */
  id: string;
  name: string;
  key: PublicKeyB64u;
  role: MemberRole;
}

export interface MemberBody {
  action: MemberAction;
  member: MemberEntry;
  /** Required when action is create, forbidden otherwise. */
  ledgerName?: string;
  reason?: string;
}

/** Body type for each event type. */
export interface EventBodies {
  generation: GenerationBody;
  'policy-snapshot': PolicySnapshotBody;
  checklist: ChecklistBody;
  export: ExportBody;
  derivation: DerivationBody;
  handoff: HandoffBody;
  deletion: DeletionBody;
  member: MemberBody;
}
export type EventBody = EventBodies[EventType];

/** The unsigned event of one type (ledger-schema/README.md section 3). */
export interface UnsignedEventOf<T extends EventType> {
  spec: typeof EVENT_SPEC;
  type: T;
  /** The genesis event's id; absent only in the genesis event (member, action create). */
  ledger?: EventIdHex;
  author: PublicKeyB64u;
  time: Timestamp;
  /** Sorted ascending, no duplicates, 1..64 entries; empty only in the genesis event. */
  parents: EventIdHex[];
  body: EventBodies[T];
}

/** The unsigned event: a union discriminated on `type`, so `if (e.type === 'generation') e.body.outputs`. */
export type UnsignedEvent = { [T in EventType]: UnsignedEventOf<T> }[EventType];

/** The signed envelope (README section 6). */
export interface Envelope {
  event: UnsignedEvent;
  /** Ed25519 signature, base64url without padding (86 characters). */
  sig: string;
}

export const isEventType = (s: unknown): s is EventType =>
  typeof s === 'string' && (EVENT_TYPES as readonly string[]).includes(s);
