/**
 * A real RFC 3161 time-stamp authority for tests, built on stock `openssl` (3.x): a self-signed root CA, a TSA
 * signing certificate it issued (extendedKeyUsage = critical,timeStamping), and `openssl ts -reply` behind a
 * Node http server on 127.0.0.1 (ephemeral port). Everything lives in a fresh temp dir, removed on close().
 *
 *   const tsa = await startTestTsa();
 *   const res = await fetch(tsa.url, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: req });
 *   // res: 200, application/timestamp-reply, a TimeStampResp from openssl
 *   verifyTimestampToken(token, imprint, [tsa.rootDer])   // 'trusted'
 *   await tsa.close();
 *
 * Options:
 * - `eku`: the TSA certificate's extendedKeyUsage: 'critical' (default, as RFC 3161 2.3 requires),
 *   'non-critical' or 'none'. `openssl ts -reply` refuses to sign with the last two, so then the server gets the
 *   TSTInfo from openssl ts with a shadow certificate (same key, critical EKU, never published) and re-signs it
 *   with `openssl cms -sign -cades` (signing-certificate v2) as the published certificate: a genuine token whose
 *   only defect is the EKU.
 * - `certNotAfterDays`: the TSA certificate's notAfter, in days from now (default 3650). Negative makes a
 *   certificate that has already expired when it signs (notBefore a year before notAfter), so tokens are
 *   signed outside its validity. Made with `openssl ca -startdate/-enddate` (openssl 3.0 has no -not_after).
 * - `intermediate`: the TSA certificate is issued by an intermediate CA under the root; the tokens carry it.
 * - `secondRoot`: also make a second, unrelated self-signed root (`secondRootPem`/`secondRootDer`), to pass
 *   alongside or instead of the real one.
 * - `keyType`: 'p256' (ECDSA P-256, default: a TSA starts in ~50 ms) or 'rsa' (RSA-2048, as most public TSAs sign;
 *   key generation makes a start take 0.5-1 s on this machine).
 *
 * `setFailing(mode)` makes the next requests fail: 'http-500'; 'rejection' (a granted-less TimeStampResp:
 * status rejection, failInfo timeNotAvailable, statusString "the test TSA is set to refuse"); 'wrong-imprint'
 * (a valid token over another hash, same nonce); 'hang' (never answers; close() cuts the connection); false
 * restores normal service. `requests` counts the POSTs received, failed ones included.
 *
 * Requests: POST only (405 otherwise), bodies above 64 KiB get 413. openssl runs one reply at a time (its serial
 * file is not safe to share), asynchronously (execFile, argument arrays, no shell).
 */
import http from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export type TsaFailMode = false | 'http-500' | 'rejection' | 'wrong-imprint' | 'hang';

export interface TestTsaOptions {
  eku?: 'critical' | 'non-critical' | 'none';
  certNotAfterDays?: number;
  intermediate?: boolean;
  secondRoot?: boolean;
  keyType?: 'rsa' | 'p256';
}

export interface TestTsa {
  /** http://127.0.0.1:PORT/tsa */
  url: string;
  /** The root CA that issued the TSA (PEM, and DER). */
  rootPem: string;
  rootDer: Uint8Array;
  /** The TSA signing certificate (PEM, and DER). */
  tsaCertPem: string;
  tsaCertDer: Uint8Array;
  /** The TSA certificate's subject, RFC 4514 order: "CN=Test TSA 1, O=Provenance Ledger Tests, C=ZZ". */
  tsaSubject: string;
  /** The root's subject, same format. */
  rootSubject: string;
  /** With `secondRoot`: an unrelated self-signed root. */
  secondRootPem?: string;
  secondRootDer?: Uint8Array;
  /** The temp dir (keys, certificates, openssl config); removed on close(). */
  dir: string;
  /** POST requests received so far, failed ones included. */
  readonly requests: number;
  setFailing(mode: TsaFailMode): void;
  /** Asks openssl directly (no HTTP, no failure mode) for a reply to a DER TimeStampReq. */
  reply(query: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
const ORG = 'Provenance Ledger Tests';
let counter = 0;

/** Runs openssl with an argument array; rejects with its stderr on a non-zero exit. */
export function openssl(args: string[], opts: { cwd?: string; input?: Uint8Array } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'openssl',
      args,
      { cwd: opts.cwd, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 30_000 },
      (err, stdout, stderr) => {
        // stderr without the progress lines of key generation (runs of '.', '+', '*' and '-')
        const said = stderr
          .toString()
          .split('\n')
          .filter((l) => !/^[-.+*\s]*$/.test(l))
          .join('\n')
          .trim();
        if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${said.slice(-800) || err.message}`));
        else resolve(stdout);
      }
    );
    if (opts.input) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** PEM (one certificate) to DER. */
export function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('no certificate in PEM');
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

const CA_CONFIG = `# openssl config of the test TSA (made by tests/helpers/tsa.ts)
[ req ]
distinguished_name = req_dn
prompt = no
x509_extensions = v3_root
[ req_dn ]
CN = unused
[ v3_root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no
[ any_name ]
countryName = optional
organizationName = optional
commonName = supplied
[ v3_intermediate ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_critical ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_non_critical ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa_none ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = .
serial = tsaserial
crypto_device = builtin
signer_cert = signer.pem
certs = chain.pem
signer_key = tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`;

/** -subj value with DER order C, O, CN (so the RFC 4514 text reads "CN=..., O=..., C=ZZ"). */
const subj = (cn: string) => `/C=ZZ/O=${ORG}/CN=${cn.replace(/[\\/+]/g, (c) => '\\' + c)}`;
const rfc4514 = (cn: string) => `CN=${cn.replace(/[\\"+,;<>]/g, (c) => '\\' + c)}, O=${ORG}, C=ZZ`;

/** openssl ca date: YYYYMMDDHHMMSSZ. */
const caDate = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
const DAY = 86_400_000;

function keyArgs(keyType: 'rsa' | 'p256'): string[] {
  return keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

async function makeRoot(dir: string, name: string, cn: string, keyType: 'rsa' | 'p256'): Promise<string> {
  await openssl(
    [
      'req',
      '-config',
      'ca.cnf',
      '-x509',
      ...keyArgs(keyType),
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-subj',
      subj(cn),
      '-days',
      '7300',
      '-sha256'
    ],
    { cwd: dir }
  );
  return readFile(path.join(dir, `${name}.pem`), 'utf8');
}

/** Issues `<name>.pem` for a fresh key `<keyName>.key` (made if absent) with the given extensions section. */
async function issue(
  dir: string,
  o: {
    name: string;
    keyName: string;
    cn: string;
    ext: string;
    issuer: string;
    notBefore: Date;
    notAfter: Date;
    keyType: 'rsa' | 'p256';
    newKey: boolean;
  }
) {
  const keyOpts = o.newKey
    ? [...keyArgs(o.keyType), '-nodes', '-keyout', `${o.keyName}.key`]
    : ['-key', `${o.keyName}.key`];
  await openssl(['req', '-config', 'ca.cnf', '-new', ...keyOpts, '-out', `${o.name}.csr`, '-subj', subj(o.cn)], {
    cwd: dir
  });
  await openssl(
    [
      'ca',
      '-config',
      'ca.cnf',
      '-batch',
      '-notext',
      '-cert',
      `${o.issuer}.pem`,
      '-keyfile',
      `${o.issuer}.key`,
      '-in',
      `${o.name}.csr`,
      '-out',
      `${o.name}.pem`,
      '-extensions',
      o.ext,
      '-startdate',
      caDate(o.notBefore),
      '-enddate',
      caDate(o.notAfter)
    ],
    { cwd: dir }
  );
  // openssl ca writes the certificate text-free with -notext; keep only the PEM block.
  const pem = await readFile(path.join(dir, `${o.name}.pem`), 'utf8');
  return pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'));
}

/** TimeStampResp { status rejection(2), statusString, failInfo timeNotAvailable(14) }, no token. */
const REJECTION = (() => {
  const text = Buffer.from('the test TSA is set to refuse');
  const str = Buffer.concat([Buffer.from([0x0c, text.length]), text]);
  const strings = Buffer.concat([Buffer.from([0x30, str.length]), str]);
  const failInfo = Buffer.from([0x03, 0x03, 0x01, 0x00, 0x02]); // 15 bits, bit 14 set
  const body = Buffer.concat([Buffer.from([0x02, 0x01, 0x02]), strings, failInfo]);
  const status = Buffer.concat([Buffer.from([0x30, body.length]), body]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, status.length]), status]));
})();

/** DER length octets. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** TimeStampResp { status granted } around a token. */
function grantedResponse(token: Uint8Array): Uint8Array {
  const status = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]);
  const len = status.length + token.length;
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLength(len), status, token]));
}

/** Offset of the SHA-256 imprint value in a TimeStampReq, or -1 (the OID, optional NULL, then OCTET STRING of 32). */
function imprintOffset(q: Uint8Array): number {
  const oid = Buffer.from('0609608648016503040201', 'hex');
  const at = Buffer.from(q).indexOf(oid);
  if (at < 0) return -1;
  let p = at + oid.length;
  if (q[p] === 0x05 && q[p + 1] === 0x00) p += 2;
  return q[p] === 0x04 && q[p + 1] === 0x20 && p + 34 <= q.length ? p + 2 : -1;
}

export async function startTestTsa(opts: TestTsaOptions = {}): Promise<TestTsa> {
  const eku = opts.eku ?? 'critical';
  const keyType = opts.keyType ?? 'p256';
  const n = ++counter;
  const dir = await mkdtemp(path.join(tmpdir(), 'test-tsa-'));
  try {
    await writeFile(path.join(dir, 'ca.cnf'), CA_CONFIG);
    await writeFile(path.join(dir, 'index.txt'), '');
    await writeFile(path.join(dir, 'serial'), `${(0x1000 + n).toString(16)}\n`);
    await writeFile(path.join(dir, 'tsaserial'), '01\n');
    const now = Date.now();
    const rootCn = `Test Root CA ${process.pid}-${n}`;
    const tsaCn = `Test TSA ${process.pid}-${n}`;
    const rootPem = await makeRoot(dir, 'root', rootCn, keyType);
    let issuer = 'root';
    let chainPem = '';
    if (opts.intermediate) {
      chainPem = await issue(dir, {
        name: 'intermediate',
        keyName: 'intermediate',
        cn: `Test Intermediate CA ${process.pid}-${n}`,
        ext: 'v3_intermediate',
        issuer: 'root',
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 3650 * DAY),
        keyType,
        newKey: true
      });
      issuer = 'intermediate';
    }
    const days = opts.certNotAfterDays ?? 3650;
    const notAfter = new Date(now + days * DAY);
    const notBefore = new Date(days < 0 ? notAfter.getTime() - 365 * DAY : now - DAY);
    const ext = eku === 'critical' ? 'tsa_critical' : eku === 'non-critical' ? 'tsa_non_critical' : 'tsa_none';
    const tsaCertPem = await issue(dir, {
      name: 'tsa',
      keyName: 'tsa',
      cn: tsaCn,
      ext,
      issuer,
      notBefore,
      notAfter,
      keyType,
      newKey: true
    });
    if (eku === 'critical') {
      await writeFile(path.join(dir, 'signer.pem'), tsaCertPem);
    } else {
      // The shadow certificate openssl ts accepts; tokens are re-signed as tsa.pem (see the header).
      await writeFile(
        path.join(dir, 'signer.pem'),
        await issue(dir, {
          name: 'shadow',
          keyName: 'tsa',
          cn: tsaCn,
          ext: 'tsa_critical',
          issuer,
          notBefore,
          notAfter,
          keyType,
          newKey: false
        })
      );
    }
    await writeFile(path.join(dir, 'chain.pem'), chainPem);
    let secondRootPem: string | undefined;
    if (opts.secondRoot)
      secondRootPem = await makeRoot(dir, 'second-root', `Test Other Root CA ${process.pid}-${n}`, keyType);

    let requests = 0;
    let failing: TsaFailMode = false;
    let seq = 0;
    let queue: Promise<unknown> = Promise.resolve();
    let closed = false;

    /** One openssl reply at a time. */
    const serial = <T>(job: () => Promise<T>): Promise<T> => {
      const run = queue.then(job, job);
      queue = run.catch(() => undefined);
      return run;
    };

    const reply = (query: Uint8Array): Promise<Uint8Array> =>
      serial(async () => {
        if (closed) throw new Error('the test TSA is closed');
        const id = ++seq;
        const q = `q${id}.tsq`;
        const files = [q, `r${id}.tsr`, `t${id}.der`, `i${id}.der`, `s${id}.der`];
        try {
          await writeFile(path.join(dir, q), query);
          if (eku === 'critical') {
            await openssl(['ts', '-reply', '-config', 'ca.cnf', '-queryfile', q, '-out', files[1]], { cwd: dir });
            return new Uint8Array(await readFile(path.join(dir, files[1])));
          }
          await openssl(['ts', '-reply', '-config', 'ca.cnf', '-queryfile', q, '-token_out', '-out', files[2]], {
            cwd: dir
          });
          await openssl(
            ['cms', '-verify', '-noverify', '-inform', 'DER', '-in', files[2], '-binary', '-out', files[3]],
            { cwd: dir }
          );
          await openssl(
            [
              'cms',
              '-sign',
              '-binary',
              '-nodetach',
              '-in',
              files[3],
              '-econtent_type',
              '1.2.840.113549.1.9.16.1.4',
              '-signer',
              'tsa.pem',
              '-inkey',
              'tsa.key',
              '-md',
              'sha256',
              '-cades',
              '-nosmimecap',
              '-outform',
              'DER',
              '-out',
              files[4],
              ...(chainPem ? ['-certfile', 'chain.pem'] : [])
            ],
            { cwd: dir }
          );
          return grantedResponse(new Uint8Array(await readFile(path.join(dir, files[4]))));
        } finally {
          await Promise.all(files.map((f) => rm(path.join(dir, f), { force: true })));
        }
      });

    const server = http.createServer((req, res) => {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      requests++;
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          res.writeHead(413, { connection: 'close' }).end();
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (size > MAX_BODY) return;
        const mode = failing;
        if (mode === 'hang') return; // keep the socket open until close()
        if (mode === 'http-500') {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('the test TSA is set to fail');
          return;
        }
        if (mode === 'rejection') {
          res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(REJECTION);
          return;
        }
        let query = new Uint8Array(Buffer.concat(chunks));
        if (mode === 'wrong-imprint') {
          const at = imprintOffset(query);
          if (at < 0) {
            res.writeHead(400, { 'content-type': 'text/plain' }).end('no SHA-256 imprint in the request');
            return;
          }
          query = query.slice();
          for (let i = at; i < at + 32; i++) query[i] ^= 0xff;
        }
        reply(query).then(
          (out) =>
            res
              .writeHead(200, { 'content-type': 'application/timestamp-reply', 'content-length': out.length })
              .end(out),
          (e: Error) => {
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(e.message);
          }
        );
      });
      req.on('error', () => undefined);
    });
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        closed = true;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await queue;
        await rm(dir, { recursive: true, force: true });
      })());

    return {
      url: `http://127.0.0.1:${port}/tsa`,
      rootPem,
      rootDer: pemToDer(rootPem),
      tsaCertPem,
      tsaCertDer: pemToDer(tsaCertPem),
      tsaSubject: rfc4514(tsaCn),
      rootSubject: rfc4514(rootCn),
      ...(secondRootPem ? { secondRootPem, secondRootDer: pemToDer(secondRootPem) } : {}),
      dir,
      get requests() {
        return requests;
      },
      setFailing(mode: TsaFailMode) {
        failing = mode;
      },
      reply,
      close
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A self-signed root CA (PEM) that issued no test TSA; its temp dir is already removed. */
export async function makeOtherRootPem(
  cn = `Test Unrelated Root CA ${process.pid}-${++counter}`,
  keyType: 'rsa' | 'p256' = 'p256'
): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'test-root-'));
  try {
    await writeFile(path.join(dir, 'ca.cnf'), CA_CONFIG);
    return await makeRoot(dir, 'root', cn, keyType);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
