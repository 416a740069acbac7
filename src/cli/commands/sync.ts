/**
 * Team commands: invite, join, sync, remove, role. A thin shell over core/team and core/sync with the relay's
 * WebSocket transport. invite and sync print one line (or, with --json, one JSON document per line) as
 * things happen, so a script can read the invite code while the command waits. sync hands the hubs this
 * device's Merkle log, so each sync also witnesses (ledger-schema/README.md section 19): the output says who
 * cosigned this device's checkpoint and whose it cosigned, and --once waits for those exchanges to finish.
 * Every reason the relay gives for refusing a room or closing a connection is shown; when it refused or closed
 * any, or --once ran out of --timeout, sync exits 1.
 */
import * as A from '@automerge/automerge/slim';
import { userInfo } from 'node:os';
import path from 'node:path';
import { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { identitySigner, saveIdentity } from '../../lib/adapters/node/identity.ts';
import { connectRelay } from '../../lib/adapters/transport/websocket.ts';
import { Ledger } from '../../lib/core/ledger.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import { generateDeviceKey, signerFromCryptoKey } from '../../lib/core/keys.ts';
import { initHash, sha256HexSync } from '../../lib/core/hash.ts';
import type { Role } from '../../lib/core/roster.ts';
import { SyncHub, type SyncReport } from '../../lib/core/sync/hub.ts';
import { connHex } from '../../lib/core/sync/frame.ts';
import {
  ensureTeamKey,
  loadTeamKeys,
  roomKey,
  saveTeamKey,
  syncEpochs,
  type TeamKey
} from '../../lib/core/team/teamkey.ts';
import { hostInvite, joinInvite, makeInviteCode, parseInviteCode, inviteRoomKey } from '../../lib/core/team/invite.ts';
import { keepRemovalNotice, removalTargets, removeAndRotate, type Removal } from '../../lib/core/team/removal.ts';
import { changeRole, isRole, ROLES as ALL_ROLES, roleTargets } from '../../lib/core/team/roles.ts';
import {
  admit,
  deviceInviteTarget,
  INVITE_ROLES,
  newMemberRole,
  type Admitted,
  type DeviceInviteTarget
} from '../../lib/core/team/devices.ts';
import { LEDGER_FOLDERS, ledgerDir, refuseUnfinishedClone, openSession, type GlobalOptions } from '../context.ts';
import { CliError, Exit, type ExitCode, type Output } from '../output.ts';

export const RELAY_ENV = 'PROVENANCE_LEDGER_RELAY';
const DEFAULT_RELAY = 'ws://127.0.0.1:8787';

const relayOf = (opts: { relay?: string }) => opts.relay ?? process.env[RELAY_ENV] ?? DEFAULT_RELAY;
const line = (out: Output, data: Record<string, unknown>, text: string) => out.result(data, (say) => say(text));

export interface InviteOptions extends GlobalOptions {
  role?: string;
  /** Another device of this member (a member id or name): the new device gets the member's id, name and role. */
  member?: string;
  relay?: string;
  timeout?: string;
}

/**
 * Invites one device: a new member with --role (admin, member or viewer; default member), or with --member
 * another device of a member already in the team (core/team/devices.ts). Refused by the roster rules: exit 1,
 * the directory left as it was (checked on the ledger opened read-only first, as `role` does); usage: exit 2.
 */
export async function invite(opts: InviteOptions, out: Output): Promise<ExitCode> {
  if (opts.member !== undefined && opts.role !== undefined) {
    throw new CliError(
      'USAGE',
      "--role and --member do not go together: a device invited for a member gets the member's role"
    );
  }
  if (opts.member !== undefined && !opts.member.trim())
    throw new CliError('USAGE', '--member needs a member id or name');
  const role = opts.role ?? 'member';
  if (!INVITE_ROLES.includes(role as Role))
    throw new LedgerError(ErrorCode.BAD_INPUT, `--role must be one of ${INVITE_ROLES.join(', ')}; got "${role}"`);
  const check = (ledger: Ledger, key: string): DeviceInviteTarget | Role =>
    opts.member !== undefined ? deviceInviteTarget(ledger, key, opts.member.trim()) : newMemberRole(ledger, key, role);
  const look = await openSession(opts);
  if (look.identity && !checked(out, () => check(look.ledger, look.identity!.publicKey))) return Exit.PROBLEMS;
  const { ledger, storage, identity } = await openSession(opts, { write: true });
  const ok = checked(out, () => check(ledger, identity!.publicKey));
  if (!ok) return Exit.PROBLEMS;
  const target = typeof ok.value === 'string' ? undefined : ok.value;
  const me = ledger.member(identity!.publicKey)!;
  const team = await ensureTeamKey(storage, me.role === 'owner');
  if (!team) throw new LedgerError(ErrorCode.NOT_FOUND, 'this device holds no team key: sync with the owner first');
  const { code, invite: inv } = makeInviteCode(ledger.id);
  const relay = relayOf(opts);
  const transport = await connectRelay(relay, await inviteRoomKey(inv));
  const what = target ? `another device of ${target.name} (${target.role})` : `a new ${role}`;
  line(
    out,
    {
      invite: {
        code,
        role: target?.role ?? role,
        relay,
        ...(target ? { member: { id: target.memberId, name: target.name } } : {})
      }
    },
    `Invite code for ${what}: ${code}\n  on the new device: provenance-ledger join ${code} --ledger NEWDIR --relay ${relay}`
  );
  let added: Admitted | undefined;
  const joiner = await hostInvite({
    invite: inv,
    transport,
    team,
    timeoutMs: opts.timeout ? Number(opts.timeout) * 1000 : undefined,
    admit: async (j) => {
      const a = (added = await admit(
        ledger,
        identity!.publicKey,
        target ? { memberId: target.memberId } : { role },
        j
      ));
      line(
        out,
        { added: { memberId: a.memberId, name: a.name, key: j.deviceKey, role: a.role, event: a.event.id } },
        `Added ${target ? `another device of ${a.name}` : a.name} (${j.deviceKey.slice(0, 12)}…) as ${a.role}: event ${a.event.id.slice(0, 16)}`
      );
      return { ledgerId: ledger.id, role: a.role, doc: A.save(ledger.doc) };
    }
  }).finally(() => transport.close());
  line(
    out,
    { joined: { name: added!.name, key: joiner.deviceKey, memberId: added!.memberId } },
    target ? `A new device of ${added!.name} joined.` : `${added!.name} joined.`
  );
  return Exit.OK;
}

export interface JoinOptions extends GlobalOptions {
  relay?: string;
  name?: string;
  timeout?: string;
}

export async function join(codeText: string, opts: JoinOptions, out: Output): Promise<void> {
  const inv = parseInviteCode(codeText);
  if (!inv) throw new CliError('BAD_INPUT', `"${codeText}" is not an invite code`);
  const dir = ledgerDir(opts);
  await refuseUnfinishedClone(dir);
  const storage = await FsStorage.open(dir, { sweep: LEDGER_FOLDERS });
  if (await Ledger.exists(storage))
    throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, `${dir} already holds a ledger`);
  const name = opts.name ?? defaultName();
  const key = await generateDeviceKey(true);
  const relay = relayOf(opts);
  const transport = await connectRelay(relay, await inviteRoomKey(inv));
  try {
    const { welcome, done } = await joinInvite({
      invite: inv,
      transport,
      signer: signerFromCryptoKey(key.privateKey, key.publicKey),
      name,
      timeoutMs: opts.timeout ? Number(opts.timeout) * 1000 : undefined
    });
    await initHash();
    await storage.save(['doc', 'snapshot', sha256HexSync(welcome.doc)], welcome.doc);
    const report = await Ledger.verifyStorage(storage, welcome.ledgerId);
    const ledger = report.ok ? await Ledger.open({ storage }) : undefined;
    if (!ledger || !ledger.member(key.publicKey)?.active) {
      await storage.removeRange(['doc']);
      throw new LedgerError(
        ErrorCode.GENESIS,
        `the ledger received does not verify or does not make this device a member${
          report.ok
            ? ''
            : `: ${report.problems
                .slice(0, 3)
                .map((p) => `${p.code} ${p.message}`)
                .join('; ')}`
        }`
      );
    }
    // The device keeps the name the roster gives it: for another device of a member, the member's, whatever it typed.
    const mine = ledger.member(key.publicKey)!;
    const devices = ledger.roster().filter((m) => m.active && m.memberId === mine.memberId).length;
    await saveIdentity(storage, key, mine.name);
    await saveTeamKey(storage, welcome.team);
    await done();
    await new Promise((r) => setTimeout(r, 100));
    out.result(
      {
        ledger: { id: ledger.id, name: ledger.name, dir: path.resolve(dir), events: ledger.size },
        member: { id: mine.memberId, name: mine.name, publicKey: key.publicKey, role: mine.role, devices },
        teamEpoch: welcome.team.epoch
      },
      (say) => {
        if (devices > 1) {
          say(
            `Joined ledger "${ledger.name}" in ${path.resolve(dir)} as another device of ${mine.name} (${mine.role}; member id ${mine.memberId}, ${devices} devices)`
          );
          if (opts.name !== undefined && opts.name !== mine.name)
            say(`  the name given, "${opts.name}", is not used: this device records as ${mine.name}`);
        } else say(`Joined ledger "${ledger.name}" in ${path.resolve(dir)} as ${mine.role}`);
        say(`  ledger id    ${ledger.id}`);
        say(`  events       ${ledger.size}, every one verified`);
        say(`  device key   ${key.publicKey}`);
      }
    );
  } finally {
    transport.close();
  }
}

export interface SyncOptions extends GlobalOptions {
  relay?: string;
  once?: boolean;
  wait?: string;
  timeout?: string;
}

export async function sync(opts: SyncOptions, out: Output): Promise<ExitCode> {
  const { ledger, storage, identity, deviceLog } = await openSession(opts, { write: true });
  const me = ledger.member(identity!.publicKey)!;
  // Shown its removal at an earlier sync (kept: core/team/removal.ts): the team refuses this device.
  const told = ledger.removedBy;
  if (told) {
    const said = `this device was removed from the team by ${told.byName || told.by.slice(0, 12)} (member event ${told.eventId.slice(0, 16)}, ${told.at}): it can no longer sync with the team`;
    out.result({ ledger: ledger.id, removed: told, events: ledger.size }, (say) => say(said));
    return Exit.PROBLEMS;
  }
  await ensureTeamKey(storage, me.role === 'owner');
  let keys = await loadTeamKeys(storage);
  if (keys.length === 0)
    throw new LedgerError(ErrorCode.NOT_FOUND, 'this device holds no team key: join the team with an invite');
  // The device log first: nothing is witnessed, cosigned or sent while it does not match the document.
  await deviceLog!();
  const relay = relayOf(opts);
  const signer = identitySigner(identity!);
  const accepted: string[] = [];
  const rejected: Array<{ code: string; message: string; eventId?: string; peer?: string }> = [];
  const peers = new Map<string, string>();
  /** Witnessing at sync: who cosigned this device's checkpoints, and whose this device cosigned. */
  const witnessed: Array<{ peer: string; name?: string; size: number; time: number }> = [];
  const cosigned: Array<{ peer: string; name?: string; size: number }> = [];
  let removed: Removal | undefined;
  let keeping: Promise<void> = Promise.resolve();
  /** What the relay said when it refused a room or closed a connection (every reason is shown). */
  const relayClosed: Array<{ epoch: number; reason: string }> = [];
  /** The hubs (by connection) whose connection the relay closed. */
  const ended = new Set<string>();
  const nameOf = (key: string) => peers.get(key) || ledger.member(key)?.name || key.slice(0, 12);
  const onReport = (r: SyncReport) => {
    if (r.type === 'accepted') {
      for (const e of r.events) accepted.push(e);
      line(
        out,
        { accepted: r.events, peer: r.peer },
        `accepted ${r.events.length} event(s) from ${peers.get(r.peer) ?? r.peer.slice(0, 12)}`
      );
      followRole();
    } else if (r.type === 'rejected') {
      rejected.push({ code: r.code, message: r.message, eventId: r.eventId, peer: r.peer });
      line(
        out,
        { rejected: r },
        `rejected [${r.code}] ${r.message}${r.eventId ? ` (event ${r.eventId.slice(0, 16)})` : ''}`
      );
    } else if (r.type === 'peer') {
      peers.set(r.peer, r.name ?? '');
      line(
        out,
        { peer: { key: r.peer, name: r.name } },
        `connected to ${r.name} (${r.peer.slice(0, 12)}…), membership verified`
      );
    } else if (r.type === 'closed') {
      const epoch = [...epochOf].find(([h]) => connHex(h.conn) === r.conn)?.[1] ?? 0;
      ended.add(r.conn);
      relayClosed.push({ epoch, reason: r.reason });
      line(out, { closed: { epoch, reason: r.reason } }, `the room of team key epoch ${epoch}: the ${r.reason}`);
    } else if (r.type === 'disconnected') {
      line(
        out,
        { disconnected: r },
        `disconnected ${r.peer ? r.peer.slice(0, 12) + '…' : r.conn.slice(0, 8)}: ${r.reason}`
      );
    } else if (r.type === 'witnessed') {
      witnessed.push({ peer: r.peer, name: peers.get(r.peer), size: r.size, time: r.time });
      line(
        out,
        { witnessed: { peer: r.peer, size: r.size, time: r.time } },
        `${nameOf(r.peer)} cosigned this device's checkpoint (log of ${r.size} entries)`
      );
    } else if (r.type === 'witness-unanswered') {
      line(
        out,
        { witnessUnanswered: { peer: r.peer, size: r.size } },
        `${nameOf(r.peer)} did not answer the request to cosign this device's checkpoint (log of ${r.size} entries); asked again at the next sync`
      );
    } else if (r.type === 'cosigned') {
      cosigned.push({ peer: r.peer, name: peers.get(r.peer), size: r.size });
      line(
        out,
        { cosigned: { peer: r.peer, size: r.size } },
        `cosigned ${nameOf(r.peer)}'s checkpoint (log of ${r.size} entries, consistent with what this device cosigned before)`
      );
    } else if (r.type === 'removed') {
      removed = r.removal;
      // Kept, so this device records nothing more (Ledger refuses appends) and does not sync again.
      keeping = keepRemovalNotice(storage, ledger, r.removal).catch((e) =>
        out.warn(`could not keep the removal notice: ${(e as Error).message}`)
      );
      line(
        out,
        { removed: r.removal },
        `this device was removed from the team by ${r.removal.byName || r.removal.by.slice(0, 12)} (member event ${r.removal.eventId.slice(0, 16)}, ${r.removal.at}): the team refuses it`
      );
    } else if (r.type === 'team-key') {
      line(
        out,
        { teamKey: { epoch: r.epoch, peer: r.peer } },
        `team key epoch ${r.epoch} ${peers.has(r.peer) ? 'exchanged with' : 'from'} ${peers.get(r.peer) ?? r.peer.slice(0, 12)}`
      );
    }
  };
  const hubFor = async (team: TeamKey) => {
    const room = await roomKey(team);
    return SyncHub.start({
      ledger,
      storage,
      signer,
      team,
      room: room.id,
      transport: await connectRelay(relay, room),
      onReport,
      log: deviceLog,
      newestTeamKey: () => keys[0],
      onTeamKey: async (k) => {
        await saveTeamKey(storage, k);
        keys = await loadTeamKeys(storage);
      }
    });
  };
  // The current epoch's room; owners and admins also visit the earlier ones, to hand the new key to
  // members who were offline while it changed (teamkey.ts, syncEpochs).
  const hubs: SyncHub[] = [];
  const epochOf = new Map<SyncHub, number>();
  /** Joins an epoch's room; a relay that refuses it is reported (with its reason) and the other rooms go on. */
  async function addHub(k: TeamKey): Promise<void> {
    let h: SyncHub;
    try {
      h = await hubFor(k);
    } catch (e) {
      if (!(e instanceof LedgerError) || e.code !== ErrorCode.REMOTE_REJECTED) throw e;
      relayClosed.push({ epoch: k.epoch, reason: e.message });
      line(
        out,
        { refused: { epoch: k.epoch, message: e.message, ...(e.detail as object) } },
        `the room of team key epoch ${k.epoch}: ${e.message}`
      );
      return;
    }
    epochOf.set(h, k.epoch);
    hubs.push(h);
  }
  /**
   * This device's role changed by an event it received (made an owner or admin, or no longer one): the earlier
   * epochs' rooms are joined or left at once, as the web app does. One change at a time.
   */
  let role = me.role;
  let following: Promise<void> = Promise.resolve();
  function followRole(): void {
    following = following
      .then(async () => {
        const now = ledger.member(identity!.publicKey)?.role;
        if (!now || now === role || removed) return;
        role = now;
        const want = syncEpochs(keys, now);
        for (const h of [...hubs]) {
          if (want.some((k) => k.epoch === epochOf.get(h))) continue;
          hubs.splice(hubs.indexOf(h), 1);
          epochOf.delete(h);
          await h.close();
        }
        for (const k of want) if (!hubs.some((h) => epochOf.get(h) === k.epoch)) await addHub(k);
        line(
          out,
          { role: { now, epochs: want.map((k) => k.epoch) } },
          `this device is now ${now}: syncing in the rooms of team key epoch${want.length === 1 ? '' : 's'} ${want.map((k) => k.epoch).join(', ')}`
        );
      })
      .catch((e) => out.warn(`could not follow the role change: ${(e as Error).message}`));
  }
  let timedOut = false;
  for (const k of syncEpochs(keys, me.role)) await addHub(k);
  line(
    out,
    { syncing: { relay, epoch: keys[0].epoch } },
    `syncing ledger "${ledger.name}" through ${relay} (team key epoch ${keys[0].epoch})`
  );

  if (!opts.once) {
    await new Promise<void>((resolve) => {
      const done = () => (clearInterval(poll), resolve());
      // Until interrupted, or until the relay has refused or closed every room (nothing more can come).
      const poll = setInterval(() => hubs.every((h) => ended.has(connHex(h.conn))) && done(), 200);
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
  } else {
    const waitMs = (opts.wait ? Number(opts.wait) : 30) * 1000;
    const timeoutMs = (opts.timeout ? Number(opts.timeout) : 300) * 1000;
    const t0 = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      if (removed) break; // refused by the team: nothing more will come
      if (hubs.every((h) => ended.has(connHex(h.conn)))) break; // the relay refused or closed every room
      const connected = hubs.some((h) => h.peers().length > 0);
      if (connected && hubs.every((h) => h.quiet(400))) break;
      if (!connected && Date.now() - t0 > waitMs) break;
      if (Date.now() - t0 > timeoutMs) {
        timedOut = true;
        line(
          out,
          { timedOut: { seconds: timeoutMs / 1000 } },
          `stopped after ${timeoutMs / 1000} s: the peers had not gone quiet (--timeout)`
        );
        break;
      }
    }
  }
  await following;
  await keeping;
  const seen = hubs.flatMap((h) => h.peers());
  for (const h of hubs) await h.close();
  // After witnessing: the configured TSAs time-stamp the newest checkpoint, pending requests are retried.
  const stamping = await import('./timestamp.ts');
  const log = await deviceLog!();
  const stamps = (await stamping.stampLog(storage, log)) ?? [];
  for (const r of stamps) line(out, { timestamp: r }, stamping.describeStamp(r, log.size));
  out.result(
    {
      ledger: ledger.id,
      peers: seen.map((p) => ({ key: p.peer, name: peers.get(p.peer) })),
      accepted,
      rejected,
      witnessed,
      cosigned,
      ...(relayClosed.length ? { relay: relayClosed } : {}),
      ...(timedOut ? { timedOut: true } : {}),
      ...(removed ? { removed } : {}),
      ...(stamps.length ? { timestamps: stamps } : {}),
      events: ledger.size,
      heads: ledger.heads()
    },
    (say) => {
      if (removed)
        say(
          `this device was removed from the team by ${removed.byName || removed.by.slice(0, 12)}: it can no longer sync with the team, and records nothing more`
        );
      if (seen.length === 0)
        say(
          relayClosed.length
            ? 'no peer could be reached: the relay refused or closed the connection'
            : 'no peer was online'
        );
      for (const c of relayClosed) say(`  relay: the room of team key epoch ${c.epoch}: ${c.reason}`);
      say(
        `done: ${accepted.length} event(s) accepted, ${rejected.length} refused; the ledger holds ${ledger.size} events`
      );
      const by = [...new Set(witnessed.map((w) => nameOf(w.peer)))];
      if (by.length)
        say(`this device's log was witnessed by ${by.join(', ')} (size ${Math.max(...witnessed.map((w) => w.size))})`);
      for (const r of rejected) say(`  refused [${r.code}] ${r.message}`);
    }
  );
  return rejected.length > 0 || removed || relayClosed.length > 0 || timedOut ? Exit.PROBLEMS : Exit.OK;
}

/**
 * An owner or admin removes a member (every active device of it) or one device (by its key), and rotates the
 * team key (core/team/removal.ts). Exit 1 when the roster rules refuse it; checked on the ledger opened
 * read-only first, so that a refusal leaves the directory as it was (see changeMemberRole).
 */
export async function removeMember(ref: string, opts: GlobalOptions, out: Output): Promise<ExitCode> {
  const look = await openSession(opts);
  if (look.identity && !checked(out, () => removalTargets(look.ledger, look.identity!.publicKey, ref)))
    return Exit.PROBLEMS;
  const { ledger, storage, identity } = await openSession(opts, { write: true });
  const targets = checked(out, () => removalTargets(ledger, identity!.publicKey, ref))?.value;
  if (!targets) return Exit.PROBLEMS;
  const { events: ids, team: next } = await removeAndRotate(ledger, storage, targets);
  out.result(
    {
      removed: targets.map((t) => ({ key: t.key, memberId: t.memberId, name: t.name })),
      events: ids,
      teamEpoch: next.epoch
    },
    (say) => {
      for (const t of targets) say(`Removed ${t.name} (${t.key.slice(0, 12)}…)`);
      const left = ledger.roster().filter((m) => m.active && m.memberId === targets[0].memberId).length;
      if (left > 0) say(`${targets[0].name} stays a member with ${left} other device${left === 1 ? '' : 's'}.`);
      say(`Team key rotated to epoch ${next.epoch}: run sync to hand it to the remaining devices.`);
    }
  );
  return Exit.OK;
}

/** Runs a roster rules check: a refusal (a LedgerError) is reported on stderr and yields undefined. */
function checked<T>(out: Output, check: () => T): { value: T } | undefined {
  try {
    return { value: check() };
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e;
    out.error(e);
    return undefined;
  }
}

/**
 * An owner or admin changes a member's role: one `member` update event per device of the member (core/team/
 * roles.ts). Exit 1 when the roster rules refuse the change, 2 for a role that does not exist. The change is
 * checked on the ledger opened read-only first: a write session sets up the Git journal of a device that has
 * none yet, and a refused change must leave the directory as it was.
 */
export async function changeMemberRole(ref: string, role: string, opts: GlobalOptions, out: Output): Promise<ExitCode> {
  if (!isRole(role))
    throw new LedgerError(ErrorCode.BAD_INPUT, `the role must be one of ${ALL_ROLES.join(', ')}; got "${role}"`);
  const look = await openSession(opts);
  if (look.identity && !checked(out, () => roleTargets(look.ledger, look.identity!.publicKey, ref, role)))
    return Exit.PROBLEMS;
  const { ledger, identity } = await openSession(opts, { write: true });
  const targets = checked(out, () => roleTargets(ledger, identity!.publicKey, ref, role))?.value;
  if (!targets) return Exit.PROBLEMS;
  const from = [...new Set(targets.map((t) => t.role))];
  const ids = await changeRole(ledger, targets, role);
  out.result(
    {
      changed: targets.map((t) => ({ key: t.key, memberId: t.memberId, name: t.name, from: t.role, role })),
      events: ids
    },
    (say) => {
      say(
        `${targets[0].name} is now ${role === 'owner' || role === 'admin' ? 'an' : 'a'} ${role} (was ${from.join(', ')}): ${ids.length} member event${ids.length === 1 ? '' : 's'} recorded`
      );
      for (const [i, t] of targets.entries()) say(`  device ${t.key.slice(0, 12)}…  event ${ids[i].slice(0, 16)}`);
      say('The other devices learn it at their next sync.');
    }
  );
  return Exit.OK;
}

function defaultName(): string {
  try {
    return userInfo().username || 'member';
  } catch {
    return 'member';
  }
}
