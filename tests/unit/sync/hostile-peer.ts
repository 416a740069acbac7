/** A peer that speaks the sync wire protocol by hand, so that tests can break it (hostile.test.ts, witness.test.ts). */
import { concatBytes } from '../../../src/lib/core/bytes.ts';
import type { Signer } from '../../../src/lib/core/keys.ts';
import type { Transport } from '../../../src/lib/core/sync/transport.ts';
import {
  BROADCAST,
  KIND_HELLO,
  KIND_SEALED,
  counterNonce,
  frameHeader,
  parseFrame
} from '../../../src/lib/core/sync/frame.ts';
import { helloKey, makeHello, parseHello, sessionKeys, signAuth } from '../../../src/lib/core/sync/handshake.ts';
import { randomBytes, seal, open } from '../../../src/lib/core/sync/crypto.ts';
import type { TeamKey } from '../../../src/lib/core/team/teamkey.ts';
import { until } from './helpers.ts';

/** Speaks the wire protocol by hand, so that it can break it. */
export class Hostile {
  conn = randomBytes(16);
  sent: Uint8Array[] = [];
  seq = 0n;
  keys?: Awaited<ReturnType<typeof sessionKeys>>;
  peerConn?: Uint8Array;
  inbox: Uint8Array[] = [];
  t: Transport;
  signer: Signer;
  teamKey: TeamKey;
  room: string;
  constructor(t: Transport, signer: Signer, teamKey: TeamKey, room: string) {
    this.t = t;
    this.signer = signer;
    this.teamKey = teamKey;
    this.room = room;
  }
  async start(waitMs = 5000) {
    const local = await makeHello(this.signer, this.teamKey.epoch);
    const hk = await helloKey(this.teamKey, this.room);
    this.t.onFrame(async (f) => {
      const p = parseFrame(f);
      if ('error' in p) return;
      if (p.kind === KIND_HELLO && !this.keys) {
        const plain = await open(hk, p.nonce!, p.ciphertext, concatBytes(p.header, p.nonce!));
        const hello = parseHello(plain!)!;
        this.peerConn = p.from;
        this.keys = await sessionKeys(this.teamKey, this.room, { conn: this.conn, local }, { conn: p.from, hello });
        await this.sendMsg(concatBytes(new Uint8Array([1]), await signAuth(this.signer, this.keys!.th, this.conn)));
      } else if (p.kind === KIND_SEALED && this.keys) {
        const m = await open(this.keys.recv, counterNonce(p.seq), p.ciphertext, p.header);
        if (m) this.inbox.push(m);
      }
    });
    const header = frameHeader(KIND_HELLO, this.conn, BROADCAST, 0n);
    const nonce = randomBytes(12);
    this.t.send(concatBytes(header, nonce, await seal(hk, nonce, local.hello.bytes, concatBytes(header, nonce))));
    await until(() => this.keys !== undefined && this.inbox.length > 0, waitMs, 'handshake');
  }
  async frame(plain: Uint8Array, seq = this.seq++): Promise<Uint8Array> {
    const header = frameHeader(KIND_SEALED, this.conn, this.peerConn!, seq);
    return concatBytes(header, await seal(this.keys!.send, counterNonce(seq), plain, header));
  }
  async sendMsg(plain: Uint8Array) {
    const f = await this.frame(plain);
    this.sent.push(f);
    this.t.send(f);
  }
  sync(msg: Uint8Array) {
    return this.sendMsg(concatBytes(new Uint8Array([2, 0]), msg));
  }
}
