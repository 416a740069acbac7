/**
 * What a verified bundle proves, in plain words. Built only from BundleFacts (what bundle-verify.ts checked), so
 * the bundle's own `report` field is never what a verifier prints.
 */
import { fromBase64url, toBase64, toHex } from '../bytes.ts';
import { sha256Sync } from '../hash.ts';
import type { LedgerEvent } from '../event.ts';
import type { BundleFacts } from './bundle-verify.ts';

const short = (h: string) => `${h.slice(0, 16)}…`;
const fp = (key: string) => toHex(sha256Sync(fromBase64url(key))).slice(0, 16);
const isoSeconds = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

type Body = Record<string, any>;

/** The sentences, most important first. */
export function describeFacts(f: BundleFacts): string[] {
  const out: string[] = [];
  const who = (ev: LedgerEvent) => {
    const m = f.roster.get(ev.event.author);
    return `${m?.name ?? 'an unknown author'} (key ${fp(ev.event.author)})`;
  };
  const witnessed = f.cosignatures.length
    ? `witnessed by ${f.cosignatures.map((c) => `${c.member ?? c.name} at ${isoSeconds(c.timestamp)}`).join(' and ')}`
    : 'not witnessed by any teammate';
  const latestBound = f.cosignatures.length ? Math.min(...f.cosignatures.map((c) => c.timestamp)) : undefined;
  const noLater = latestBound !== undefined ? `, so it existed no later than ${isoSeconds(latestBound)}` : " (the time is the author's own claim)";

  // The subject.
  if ('sha256' in f.subject) {
    const h = f.subject.sha256;
    const refName = (ev: LedgerEvent) => {
      const found = JSON.stringify(ev.event.body).match(new RegExp(`"name":"([^"]*)"[^{}]*"sha256":"${h}"`));
      return found?.[1];
    };
    const name = f.subject.name ?? f.files.find((x) => x.sha256 === h)?.file ?? f.events.map(refName).find(Boolean) ?? 'the file';
    const label = `${name} (sha256 ${h})`;
    for (const ev of f.events) {
      const b = ev.event.body as Body;
      const has = (list: unknown) => Array.isArray(list) && list.some((x: Body) => x?.sha256 === h);
      const opening = f.openings.find((o) => o.event === ev.id && o.field === 'prompt');
      const at = `at ${ev.event.time}`;
      if (ev.event.type === 'generation' && has(b.outputs)) {
        const model = b.platform.modelVersion ? ` (${b.platform.modelVersion}, ${b.mode})` : ` (${b.mode})`;
        const prompt = opening ? '; the prompt was revealed and matches' : b.prompt ? '; the prompt stays secret (only its commitment is recorded)' : '';
        out.push(`${label} was recorded as output of a generation on ${b.platform.name}${model} by ${who(ev)} ${at}; ${witnessed}${noLater}${prompt}.`);
        out.push(`  settings: training opt-out ${b.settings.trainingOptOut ? 'on' : 'off'}, privacy mode ${b.settings.privacyMode ? 'on' : 'off'}; project ${JSON.stringify(b.project)}, classification ${b.classification}.`);
      } else if (ev.event.type === 'generation' && has(b.inputs)) {
        out.push(`${label} was recorded as a reference input sent to ${b.platform.name} by ${who(ev)} ${at}.`);
      } else if (ev.event.type === 'export' && has(b.files)) {
        out.push(`${label} was exported to "${b.destination.label}" (${b.destination.kind}${b.destination.encrypted ? ', encrypted' : ', not encrypted'}) by ${who(ev)} ${at}.`);
      } else if (ev.event.type === 'derivation' && has(b.outputs)) {
        out.push(`${label} was made by ${b.operation} in ${b.tool.name} from ${b.parents.map((p: Body) => `${p.name} (sha256 ${short(p.sha256)})`).join(', ')}, recorded by ${who(ev)} ${at}.`);
      } else if (ev.event.type === 'derivation' && has(b.parents)) {
        out.push(`${label} was edited (${b.operation} in ${b.tool.name}) into ${b.outputs.map((p: Body) => `${p.name} (sha256 ${short(p.sha256)})`).join(', ')}, recorded by ${who(ev)} ${at}.`);
      } else if (ev.event.type === 'handoff' && has(b.files)) {
        out.push(`${label} was handed to ${b.recipient.name}${b.recipient.organization ? ` (${b.recipient.organization})` : ''} by ${who(ev)} ${at}.`);
      } else if (ev.event.type === 'deletion' && (b.target?.files?.includes(h) || f.events.some((g) => g.id === b.target?.generation && has((g.event.body as Body).outputs)))) {
        out.push(`The cloud copy on ${b.platform.name}: deletion ${b.status}, recorded by ${who(ev)} ${at}.`);
      }
    }
  } else {
    const subject = f.subject.event;
    const ev = f.events.find((e) => e.id === subject);
    if (ev) out.push(`Event ${ev.id} (${ev.event.type}) was recorded by ${who(ev)} at ${ev.event.time}; ${witnessed}${noLater}.`);
  }

  // Context: what the generations cited, and the other events in the chain.
  for (const ev of f.events) {
    const b = ev.event.body as Body;
    if (ev.event.type === 'policy-snapshot') {
      const a = b.answers;
      out.push(`Policy snapshot: ${b.platform.name} ${b.kind} retrieved at ${b.retrievedAt} (text sha256 ${short(b.text.sha256)}): training on inputs ${a.trainingOnInputs.answer}, on outputs ${a.trainingOnOutputs.answer}, opt-out ${a.optOutAvailable.answer}; recorded by ${who(ev)}.`);
    } else if (ev.event.type === 'checklist') {
      const items = Object.entries(b.items).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ');
      out.push(`Checklist for project ${JSON.stringify(b.project)} (${b.classification}): ${items}; recorded by ${who(ev)} at ${ev.event.time}.`);
    }
  }
  for (const o of f.openings) {
    out.push(`The ${o.field === 'prompt' ? 'prompt' : 'negative prompt'} of generation ${short(o.event)} was revealed and matches its commitment: ${JSON.stringify(o.prompt)}.`);
  }

  // Who the authors are.
  const genesis = f.events.find((e) => e.id === f.ledger)!;
  out.push(`Ledger "${f.ledgerName}" (id ${f.ledger}) was created by ${who(genesis)} at ${genesis.event.time}.`);
  for (const ev of f.events) {
    if (ev.event.type !== 'member' || ev.id === f.ledger) continue;
    const b = ev.event.body as Body;
    const verb = b.action === 'add' ? `was added as ${b.member.role}` : b.action === 'update' ? `was made ${b.member.role}` : 'was removed';
    out.push(`${b.member.name} (key ${fp(b.member.key)}) ${verb} by ${who(ev)} at ${ev.event.time}.`);
  }

  // The log and its witnesses.
  out.push(
    `All ${f.events.length} events above are entries of ${f.logOwner ?? 'a member'}'s device log ${f.checkpoint.origin}, in its signed checkpoint of ${f.checkpoint.size} entries (root ${toBase64(f.checkpoint.rootHash)}); no other event of the ledger is revealed.`
  );
  if (f.cosignatures.length) {
    for (const c of f.cosignatures) out.push(`Witnessed by ${c.member ?? c.name} (key ${fp(c.key)}) at ${isoSeconds(c.timestamp)}: that device checked the log had only grown since it last cosigned it.`);
  } else {
    out.push('No teammate has cosigned this checkpoint: the times are the authors\' own claims.');
  }
  for (const x of f.files) out.push(`${x.file} hashes to sha256 ${x.sha256}, the file the bundle names.`);
  return out;
}
