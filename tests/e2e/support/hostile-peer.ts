/**
 * A hostile peer for the e2e test: it holds a real device's team key (read from a CLI ledger directory), so it
 * proves the room key and enters the team's relay room, and sends what a member must refuse: a truncated frame,
 * a greeting that does not open with the team key, and a sealed frame from a connection that never greeted.
 *   node tests/e2e/support/hostile-peer.ts <ledger dir> <relay url>
 */
import { FsStorage } from '../../../src/lib/adapters/storage/fs.ts';
import { loadTeamKeys, roomKey } from '../../../src/lib/core/team/teamkey.ts';
import { connectRelay } from '../../../src/lib/adapters/transport/websocket.ts';
import { BROADCAST, KIND_HELLO, KIND_SEALED, frameHeader } from '../../../src/lib/core/sync/frame.ts';
import { randomBytes } from '../../../src/lib/core/sync/crypto.ts';
import { concatBytes } from '../../../src/lib/core/bytes.ts';

const [dir, relay] = process.argv.slice(2);
const keys = await loadTeamKeys(await FsStorage.open(dir));
if (!keys[0]) throw new Error('no team key in ' + dir);
const t = await connectRelay(relay, await roomKey(keys[0]));
const me = randomBytes(16);
const frames = [
  randomBytes(20), // truncated
  concatBytes(frameHeader(KIND_HELLO, me, BROADCAST, 0n), randomBytes(12), randomBytes(80)), // forged greeting
  concatBytes(frameHeader(KIND_SEALED, randomBytes(16), BROADCAST, 0n), randomBytes(64)) // never greeted
];
for (const f of frames) {
  t.send(f);
  await new Promise((r) => setTimeout(r, 150));
}
t.close();
process.stdout.write(`sent ${frames.length} hostile frames\n`);
