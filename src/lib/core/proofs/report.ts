/**
 * What a verified bundle establishes, in plain words, built only from BundleFacts (what bundle-verify.ts checked).
 * The statements keep apart what the records say (each signed by its author), what is proven (signatures,
 * membership, log inclusion, a trusted time-stamp's time) and what is only claimed (event times, witnesses'
 * times, untrusted tokens). ledger-schema/README.md section 17 lists the facts every verifier states.
 */
import { fromBase64url, toBase64, toHex } from '../bytes.ts';
import { sha256Sync } from '../hash.ts';
import type { LedgerEvent } from '../event.ts';
import type { EventBodies, EventType, GenerationSettings } from '../types.ts';
import type { BundleFacts } from './bundle-verify.ts';
import { fileRefs } from '../query.ts';

const short = (h: string) => `${h.slice(0, 16)}…`;
const fp = (key: string) => toHex(sha256Sync(fromBase64url(key))).slice(0, 16);
const isoSeconds = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

/** Where an arbiter gets a verifier with nothing installed. */
export const OFFLINE_VERIFIER_HINT =
  'Check this bundle yourself: open verify-offline.html (one self-contained page, no network; the Provenance Ledger app links it from its Verify page, and its build writes it beside index.html) and drop this file on it, or run provenance-ledger verify-bundle.';

interface FileRef {
  name: string;
  sha256: string;
}

/** The body of an event of type `type`, or undefined when the event is of another type. */
function bodyOf<T extends EventType>(ev: LedgerEvent, type: T): EventBodies[T] | undefined {
  return ev.event.type === type ? (ev.event.body as EventBodies[T]) : undefined;
}

const MODES: Record<string, string> = {
  'text-to-3d': 'text to 3D',
  'image-to-3d': 'image to 3D',
  'multiview-to-3d': 'multi-view images to 3D',
  'text-to-texture': 'text to texture',
  retexture: 'retexture',
  other: 'another mode'
};
const KINDS: Record<string, string> = {
  'privacy-policy': 'privacy policy',
  'terms-of-service': 'terms of service',
  dpa: 'data processing agreement',
  'model-license': 'model licence',
  other: 'policy'
};
const ANSWERS: Record<string, string> = { yes: 'yes', no: 'no', unclear: 'unclear', 'not-stated': 'not stated' };
const words = (code: string | undefined, table: Record<string, string>) =>
  code === undefined ? 'not recorded' : (table[code] ?? code.replace(/-/g, ' '));
const onOff = (v: unknown) => (v === true ? 'on' : v === false ? 'off' : 'not recorded');
const files = (list: FileRef[] | undefined) =>
  (list ?? []).map((f) => `${f.name} (sha256 ${short(f.sha256)})`).join(', ') || 'none';

/** The sentences, in sections: the record, what is proven, what is only claimed. */
export function describeFacts(f: BundleFacts): string[] {
  const out: string[] = [];
  const who = (ev: LedgerEvent) => {
    const m = f.roster.get(ev.event.author);
    return `${m?.name ?? 'an unknown author'} (key ${fp(ev.event.author)})`;
  };
  const byId = new Map<string, LedgerEvent>(f.events.map((e) => [e.id, e]));
  const records = f.events.filter((e) => e.event.type !== 'member');

  // ---- The subject and its chain, as the signed records state it.
  if ('sha256' in f.subject) {
    const h = f.subject.sha256;
    out.push(`About ${subjectLabel(f, records)}.`);
    const origin = originOf(h, records);
    if (origin.generation) {
      const g = bodyOf(origin.generation, 'generation')!; // originOf found it by its type, as each step below
      const steps = origin.steps.map((d) => {
        const b = bodyOf(d, 'derivation')!;
        return `${b.operation} in ${b.tool.name}${b.tool.version ? ` ${b.tool.version}` : ''} → ${files(b.outputs.filter((o) => origin.hashes.has(o.sha256)))}`;
      });
      out.push(
        `Origin: ${steps.length ? 'made from the output of' : 'output of'} an AI generation on ${g.platform.name} (generation ${short(origin.generation.id)})${steps.length ? `, through ${steps.length} recorded step(s): ${steps.join('; ')}` : ''}.`
      );
    } else if (origin.steps.length) {
      out.push(
        `Origin: made by ${origin.steps.length} recorded local step(s); no AI generation of its sources is in this bundle.`
      );
    } else {
      out.push('Origin: no generation or local edit that made this file is in this bundle.');
    }
  } else {
    const ev = byId.get(f.subject.event);
    if (ev) out.push(`About event ${ev.id} (${ev.event.type}).`);
  }
  out.push(`What the records say (each signed by its author; the times are the authors' own clocks):`);
  for (const ev of records) {
    const about =
      'sha256' in f.subject ? subjectSentence(f.subject.sha256, subjectLabel(f, records), ev, who, f) : undefined;
    out.push(...(about ?? [`- ${describeEvent(ev, who, f)}`]));
  }
  const generations = records.filter((e) => e.event.type === 'generation');
  for (const g of generations) {
    const deletions = records.filter((e) => bodyOf(e, 'deletion')?.target?.generation === g.id);
    const b = bodyOf(g, 'generation')!;
    if (deletions.length === 0)
      out.push(
        `- No deletion of the cloud copy of generation ${short(g.id)} on ${b.platform.name} is recorded in this bundle.`
      );
  }

  // ---- What is proven.
  out.push('Proven (by signatures and hashes):');
  const genesis = byId.get(f.ledger)!;
  out.push(
    `- Every event above is signed by its author's device key, and each author was a member when it signed, by the chain of member events below from the ledger's creator.`
  );
  out.push(
    `- Ledger "${f.ledgerName}" (id ${f.ledger}) was created by ${who(genesis)}; its claimed time ${genesis.event.time}.`
  );
  for (const ev of f.events) {
    const e = ev.event;
    if (e.type !== 'member' || ev.id === f.ledger) continue;
    const b = e.body;
    const verb =
      b.action === 'add'
        ? `was added as ${b.member.role}`
        : b.action === 'update'
          ? `was made ${b.member.role}`
          : 'was removed';
    out.push(`- ${b.member.name} (key ${fp(b.member.key)}) ${verb} by ${who(ev)}; claimed time ${ev.event.time}.`);
  }
  out.push(
    `- All ${f.events.length} events are entries of ${f.logOwner ?? 'a member'}'s device log ${f.checkpoint.origin}, in its checkpoint of ${f.checkpoint.size} entries (root ${toBase64(f.checkpoint.rootHash)}) signed by that device; no other event of the ledger is revealed.`
  );
  const trusted = f.timestamps.filter((t) => t.verdict.status === 'trusted');
  for (const t of [...trusted].sort((a, b) => (a.verdict.info.genTime < b.verdict.info.genTime ? -1 : 1))) {
    const covered = f.events.filter((e) => (f.leaves.get(e.id) ?? Infinity) < t.size);
    if (!covered.length) continue;
    const v = t.verdict as Extract<typeof t.verdict, { status: 'trusted' }>;
    const which =
      covered.length === f.events.length
        ? `all ${f.events.length} events above`
        : `${covered.length} of the ${f.events.length} events above (${covered.map((e) => short(e.id)).join(', ')})`;
    out.push(
      `- Time: ${which} existed no later than ${v.info.genTime} according to ${v.info.tsa} (RFC 3161 time-stamp of the log's first ${t.size} entries, serial ${v.info.serial}, chained to the trusted root ${v.root}).`
    );
  }
  for (const o of f.openings) {
    out.push(
      `- The ${o.field === 'prompt' ? 'prompt' : 'negative prompt'} of generation ${short(o.event)} was revealed and matches its commitment: ${JSON.stringify(o.prompt)}.`
    );
  }
  for (const x of f.files) out.push(`- ${x.file} hashes to sha256 ${x.sha256}, a file the bundle names.`);

  // ---- What is only claimed.
  out.push('Claimed, not proven by this bundle:');
  if (trusted.length === 0)
    out.push('- No trusted time-stamp covers these events: nothing here proves when they existed.');
  out.push("- Each event's time is its author's own clock.");
  for (const c of f.cosignatures) {
    const name = `${c.member ?? c.name} (key ${fp(c.key)})`;
    if (c.beforeEvents) {
      out.push(
        `- ${name} cosigned the checkpoint with the time ${isoSeconds(c.timestamp)}, before the time ${c.beforeEvents.time} of an event it covers: its time bounds nothing.`
      );
    } else if (c.sameMember) {
      out.push(
        `- ${name} cosigned the checkpoint at ${isoSeconds(c.timestamp)} by its own clock; it is another device of ${f.logOwner ?? 'the log'}'s own member, not an independent witness.`
      );
    } else {
      out.push(
        `- ${name} cosigned the checkpoint at ${isoSeconds(c.timestamp)} by its own clock, saying it checked the log had only grown since it last cosigned it.`
      );
    }
  }
  if (f.cosignatures.length === 0) out.push('- No teammate cosigned this checkpoint.');
  for (const t of f.timestamps) {
    if (t.verdict.status !== 'untrusted') continue;
    out.push(
      `- A time-stamp token from ${t.verdict.info.tsa} says ${t.verdict.info.genTime}, but it is not trusted: ${t.verdict.reason}.`
    );
  }
  if (!f.ledgerExpected) {
    out.push(
      `- The ledger id and its creator's key (${fp(genesis.event.author)}) are the bundle's own: compare them with ones you know by other means (verify-bundle --expect-ledger).`
    );
  }
  out.push('- A bundle shows only the member events it includes: a removal it leaves out cannot be seen.');
  out.push(OFFLINE_VERIFIER_HINT);
  return out;
}

function subjectLabel(f: BundleFacts, records: readonly LedgerEvent[]): string {
  if (!('sha256' in f.subject)) return '';
  const h = f.subject.sha256;
  const name =
    f.subject.name ??
    f.files.find((x) => x.sha256 === h)?.file ??
    records.flatMap(fileRefs).find((r) => r.sha256 === h)?.name ??
    'the file';
  return `${name} (sha256 ${h})`;
}

/** How the witnesses' cosignatures read beside an event (their times are the witnesses' clocks). */
function witnessedWords(f: BundleFacts): string {
  const usable = f.cosignatures.filter((c) => !c.beforeEvents);
  if (!usable.length) return 'not witnessed by any teammate';
  return `witnessed by ${usable.map((c) => `${c.member ?? c.name}${c.sameMember ? " (another device of the log's own member)" : ''} at ${isoSeconds(c.timestamp)}`).join(' and ')} by the witness's own clock`;
}

/** The sentences for an event that names the subject file, or undefined for the other events of its chain. */
function subjectSentence(
  h: string,
  label: string,
  ev: LedgerEvent,
  who: (ev: LedgerEvent) => string,
  f: BundleFacts
): string[] | undefined {
  const e = ev.event;
  const has = (list: unknown) =>
    Array.isArray(list) && list.some((x: { sha256?: unknown } | null | undefined) => x?.sha256 === h);
  const at = `at ${ev.event.time}`;
  if (e.type === 'generation' && has(e.body.outputs)) {
    const b = e.body;
    const opening = f.openings.find((o) => o.event === ev.id && o.field === 'prompt');
    const model = b.platform.modelVersion
      ? ` (model ${b.platform.modelVersion}, ${words(b.mode, MODES)})`
      : ` (${words(b.mode, MODES)})`;
    const prompt = opening
      ? '; the prompt was revealed and matches its commitment'
      : b.prompt
        ? '; the prompt stays secret (only its commitment is recorded)'
        : '';
    const s: GenerationSettings = b.settings ?? {};
    return [
      `- ${label} was recorded as output of a generation on ${b.platform.name}${model} by ${who(ev)} ${at}; ${witnessedWords(f)}${prompt}.`,
      `  settings claimed: training opt-out ${onOff(s.trainingOptOut)}, privacy mode ${onOff(s.privacyMode)}${s.seed !== undefined ? `, seed ${s.seed}` : ''}; project ${JSON.stringify(b.project)}, classification ${b.classification}; generation ${short(ev.id)} cites ${b.checklist ? `checklist ${short(b.checklist)}` : 'no checklist'} and ${b.policySnapshots?.length ? `policy snapshots ${b.policySnapshots.map(short).join(', ')}` : 'no policy snapshot'}.`
    ];
  }
  if (e.type === 'generation' && has(e.body.inputs))
    return [`- ${label} was recorded as a reference input sent to ${e.body.platform.name} by ${who(ev)} ${at}.`];
  if (e.type === 'export' && has(e.body.files)) {
    const b = e.body;
    return [
      `- ${label} was exported to "${b.destination.label}" (${b.destination.kind}, ${b.destination.encrypted ? 'encrypted' : 'not encrypted'}) by ${who(ev)} ${at}.`
    ];
  }
  if (e.type === 'derivation' && has(e.body.outputs)) {
    const b = e.body;
    return [
      `- ${label} was made by ${b.operation} in ${b.tool.name}${b.tool.version ? ` ${b.tool.version}` : ''} from ${files(b.parents)}, recorded by ${who(ev)} ${at}.`
    ];
  }
  if (e.type === 'derivation' && has(e.body.parents)) {
    const b = e.body;
    return [
      `- ${label} was edited (${b.operation} in ${b.tool.name}) into ${files(b.outputs)}, recorded by ${who(ev)} ${at}.`
    ];
  }
  if (e.type === 'handoff' && has(e.body.files)) {
    const b = e.body;
    return [
      `- ${label} was handed to ${b.recipient.name}${b.recipient.organization ? ` (${b.recipient.organization})` : ''} by ${who(ev)} ${at}.`
    ];
  }
  return undefined;
}

/**
 * The report a prover embeds in a bundle: this reading of the facts with nothing given by a verifier (no files,
 * no pinned ledger id, no trusted time-stamp roots: each token is stated with its time and TSA, untrusted).
 */
export function proverReport(f: BundleFacts): string {
  const timestamps = f.timestamps.map((t) => ({
    ...t,
    verdict: {
      status: 'untrusted' as const,
      info: t.verdict.info,
      code: 'TSA_NO_ROOTS' as const,
      reason: "the prover's report trusts no root: check the token with the TSA's root certificate"
    }
  }));
  return describeFacts({ ...f, files: [], ledgerExpected: false, timestamps }).join('\n') + '\n';
}

function describeEvent(ev: LedgerEvent, who: (ev: LedgerEvent) => string, f: BundleFacts): string {
  const e = ev.event;
  const by = `by ${who(ev)}, claimed time ${ev.event.time}`;
  switch (e.type) {
    case 'generation': {
      const b = e.body;
      const opened = f.openings.some((o) => o.event === ev.id && o.field === 'prompt');
      const prompt = b.prompt
        ? opened
          ? 'the prompt is revealed below'
          : 'the prompt stays secret (only its commitment is recorded)'
        : 'no prompt recorded';
      const cites = [
        b.checklist ? `checklist ${short(b.checklist)}` : 'no checklist',
        b.policySnapshots?.length ? `policy snapshots ${b.policySnapshots.map(short).join(', ')}` : 'no policy snapshot'
      ];
      const s: GenerationSettings = b.settings ?? {};
      return (
        `Generation ${short(ev.id)} on ${b.platform.name}${b.platform.modelVersion ? ` (model ${b.platform.modelVersion})` : ''}, ${words(b.mode, MODES)}, ${by}: ` +
        `outputs ${files(b.outputs)}; inputs ${files(b.inputs)}; ${prompt}; settings claimed: training opt-out ${onOff(s.trainingOptOut)}, privacy mode ${onOff(s.privacyMode)}` +
        `${s.seed !== undefined ? `, seed ${s.seed}` : ''}; project ${JSON.stringify(b.project)}, classification ${b.classification}; cites ${cites.join(' and ')}.`
      );
    }
    case 'policy-snapshot': {
      const b = e.body;
      const a = b.answers;
      return (
        `Policy snapshot ${short(ev.id)}: ${b.platform.name} ${words(b.kind, KINDS)} retrieved at ${b.retrievedAt} (text sha256 ${short(b.text.sha256)}): ` +
        `training on inputs ${words(a.trainingOnInputs.answer, ANSWERS)}, on outputs ${words(a.trainingOnOutputs.answer, ANSWERS)}, opt-out available ${words(a.optOutAvailable.answer, ANSWERS)}; ${by}.`
      );
    }
    case 'checklist': {
      const b = e.body;
      const items = Object.entries(b.items)
        .map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`)
        .join(', ');
      return `Checklist ${short(ev.id)} for project ${JSON.stringify(b.project)} (${b.classification}): ${items}; ${by}.`;
    }
    case 'export': {
      const b = e.body;
      return `Export of ${files(b.files)}${b.generation ? ` (from generation ${short(b.generation)})` : ''} to "${b.destination.label}" (${b.destination.kind}, ${b.destination.encrypted ? 'encrypted' : 'not encrypted'}), ${by}.`;
    }
    case 'derivation': {
      const b = e.body;
      return `Local edit: ${b.operation} in ${b.tool.name}${b.tool.version ? ` ${b.tool.version}` : ''} made ${files(b.outputs)} from ${files(b.parents)}, ${by}.`;
    }
    case 'handoff': {
      const b = e.body;
      return `Handoff of ${files(b.files)} to ${b.recipient.name}${b.recipient.organization ? ` (${b.recipient.organization})` : ''}, ${by}.`;
    }
    case 'deletion': {
      const b = e.body;
      const target = b.target?.generation
        ? `of generation ${short(b.target.generation)}`
        : `of ${(b.target?.files ?? []).length} file(s)`;
      return `Cloud copy on ${b.platform.name} ${target}: deletion ${b.status}${b.evidence ? ` (evidence sha256 ${short(b.evidence.sha256)})` : ''}, ${by}.`;
    }
    default:
      return `Event ${short(ev.id)} (${ev.event.type}), ${by}.`;
  }
}

/**
 * The upstream chain of a file: the derivations that made it (nearest last), and the generation at their root.
 * Follows the first source that leads back to a generation.
 */
function originOf(
  sha256: string,
  events: readonly LedgerEvent[]
): { generation?: LedgerEvent; steps: LedgerEvent[]; hashes: Set<string> } {
  const visit = (
    h: string,
    seen: Set<string>
  ): { generation?: LedgerEvent; steps: LedgerEvent[]; hashes: Set<string> } | undefined => {
    if (seen.has(h)) return undefined;
    seen.add(h);
    const gen = events.find((e) => bodyOf(e, 'generation')?.outputs.some((o) => o.sha256 === h));
    if (gen) return { generation: gen, steps: [], hashes: new Set([h]) };
    let fallback: { generation?: LedgerEvent; steps: LedgerEvent[]; hashes: Set<string> } | undefined;
    for (const d of events) {
      const b = bodyOf(d, 'derivation');
      if (!b || !b.outputs.some((o) => o.sha256 === h)) continue;
      for (const p of b.parents) {
        const up = visit(p.sha256, seen);
        if (up?.generation)
          return { generation: up.generation, steps: [...up.steps, d], hashes: new Set([...up.hashes, h]) };
        fallback ??= { steps: [...(up?.steps ?? []), d], hashes: new Set([...(up?.hashes ?? []), h]) };
      }
    }
    return fallback;
  };
  return visit(sha256, new Set()) ?? { steps: [], hashes: new Set() };
}
