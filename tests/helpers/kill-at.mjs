/**
 * A Node preload that counts the file operations a process makes inside one directory and SIGKILLs the process
 * at a chosen one, for crash-order tests (tests/unit/cli/kill-points.test.ts). Use it as
 * `node --import=<absolute path of this file> …` with:
 *
 *   PL_TEST_FS_DIR=<dir>      only operations on paths inside this directory (and on descriptors opened there)
 *                             count; required, or the preload does nothing
 *   PL_TEST_KILL_AT=<k>       SIGKILL the process at operation k (1-based); unset: count only
 *   PL_TEST_FS_LOG=<file>     at exit, write the operations made, one a line ("<n> <kind> <path>"), to this file
 *
 * What counts: creating or opening a file for writing, each data write, fsync/fdatasync, rename, unlink, rm,
 * mkdir, rmdir, truncate, copy, link. The process is killed before the operation runs; a whole-file write
 * (writeFile) counts twice, the second time killed after half of its bytes are in the file (a torn write, as a
 * kill in the middle of it leaves; a write through a descriptor is not torn as well: it goes to a file opened for
 * it, whose torn and unwritten states are alike). Reads are not counted, nor operations that change nothing (a
 * folder made that exists, a file removed that does not). The callback, promise and sync forms of
 * node:fs are all wrapped (the ESM bindings of node:fs and node:fs/promises follow through
 * syncBuiltinESMExports), so a module that imported them before still calls the wrappers.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';

const root = process.env.PL_TEST_FS_DIR ? path.resolve(process.env.PL_TEST_FS_DIR) : undefined;
const killAtRaw = process.env.PL_TEST_KILL_AT;
const killAt = killAtRaw === undefined || killAtRaw === '' ? undefined : Number(killAtRaw);
if (killAt !== undefined && !(Number.isSafeInteger(killAt) && killAt > 0))
  throw new Error(`PL_TEST_KILL_AT must be a positive integer, not ${JSON.stringify(killAtRaw)}`);
const logFile = process.env.PL_TEST_FS_LOG;

if (root) {
  const orig = {
    writeFileSync: fs.writeFileSync,
    openSync: fs.openSync
  };
  let count = 0;
  const ops = [];
  /** Descriptors opened inside root (for fd-based operations). */
  const fds = new Map();

  const inside = (p) => {
    if (typeof p !== 'string' && !(p instanceof URL) && !Buffer.isBuffer(p)) return false;
    const abs = path.resolve(p instanceof URL ? p.pathname : String(p));
    return abs === root || abs.startsWith(root + path.sep);
  };
  const rel = (p) => path.relative(root, path.resolve(String(p instanceof URL ? p.pathname : p))) || '.';

  /** Counts one operation (two for a write); kills the process when its count is reached. */
  const step = (kind, where, tear) => {
    count++;
    ops.push(`${count} ${kind} ${where}`);
    if (count === killAt) die();
    if (tear) {
      count++;
      ops.push(`${count} ${kind}-torn ${where}`);
      if (count === killAt) {
        tear();
        die();
      }
    }
  };
  const die = () => {
    flushLog();
    process.kill(process.pid, 'SIGKILL');
  };
  const flushLog = () => {
    if (logFile) orig.writeFileSync(logFile, ops.join('\n') + (ops.length ? '\n' : ''));
  };
  process.on('exit', flushLog);

  const writes = (flags) => {
    if (typeof flags === 'number')
      return (
        (flags &
          (fs.constants.O_WRONLY |
            fs.constants.O_RDWR |
            fs.constants.O_CREAT |
            fs.constants.O_TRUNC |
            fs.constants.O_APPEND)) !==
        0
      );
    return typeof flags === 'string' && /[wa+]/.test(flags);
  };
  const bytesOf = (data, encoding) =>
    typeof data === 'string'
      ? Buffer.from(data, typeof encoding === 'string' ? encoding : (encoding?.encoding ?? 'utf8'))
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  /** Writes the first half of data to file (replacing it), as a write cut short leaves it. */
  const tearFile = (file, data, encoding) => () => {
    const b = bytesOf(data, encoding);
    orig.writeFileSync(file, b.subarray(0, b.length >> 1));
  };

  // Path operations: [name, kind, how many leading path arguments].
  const pathOps = [
    ['rename', 'rename', 2],
    ['unlink', 'unlink', 1],
    ['rm', 'rm', 1],
    ['rmdir', 'rmdir', 1],
    ['mkdir', 'mkdir', 1],
    ['truncate', 'truncate', 1],
    ['copyFile', 'copy', 2],
    ['cp', 'copy', 2],
    ['link', 'link', 2],
    ['symlink', 'link', 2]
  ];
  /** An operation that changes nothing (a folder made that exists, a file or folder removed that does not). */
  const noOp = (kind, p) =>
    kind === 'mkdir' ? fs.existsSync(p) : ['unlink', 'rm', 'rmdir'].includes(kind) ? !fs.existsSync(p) : false;
  const wrapPath = (obj, name, kind, n) => {
    const f = obj[name];
    if (typeof f !== 'function') return;
    obj[name] = function (...args) {
      const paths = args.slice(0, n);
      if (paths.some(inside) && !noOp(kind, paths[0]))
        step(kind, paths.map((p) => (inside(p) ? rel(p) : String(p))).join(' -> '));
      return f.apply(this, args);
    };
  };
  for (const [name, kind, n] of pathOps) {
    wrapPath(fs, name, kind, n);
    wrapPath(fs, `${name}Sync`, kind, n);
    wrapPath(fsp, name, kind, n);
  }

  // Whole-file writes.
  for (const [obj, name] of [
    [fs, 'writeFile'],
    [fs, 'writeFileSync'],
    [fs, 'appendFile'],
    [fs, 'appendFileSync'],
    [fsp, 'writeFile'],
    [fsp, 'appendFile']
  ]) {
    const f = obj[name];
    obj[name] = function (file, data, ...rest) {
      if (inside(file) && (typeof data === 'string' || ArrayBuffer.isView(data))) {
        step(
          name.startsWith('append') ? 'append' : 'write',
          rel(file),
          name.startsWith('append') ? undefined : tearFile(file, data, rest[0])
        );
      }
      return f.call(this, file, data, ...rest);
    };
  }

  // Opening: a file opened for writing inside root counts, and its descriptor is followed.
  const cbOpen = fs.open;
  fs.open = function (file, flags, mode, cb) {
    const callback = [flags, mode, cb].find((a) => typeof a === 'function');
    const fl = typeof flags === 'function' ? 'r' : (flags ?? 'r');
    if (!inside(file)) return cbOpen.apply(this, arguments);
    if (writes(fl)) step('open', rel(file));
    const args = [...arguments];
    args[args.indexOf(callback)] = (e, fd) => {
      if (!e) fds.set(fd, rel(file));
      callback(e, fd);
    };
    return cbOpen.apply(this, args);
  };
  fs.openSync = function (file, flags = 'r', ...rest) {
    if (inside(file) && writes(flags)) step('open', rel(file));
    const fd = orig.openSync.call(this, file, flags, ...rest);
    if (inside(file)) fds.set(fd, rel(file));
    return fd;
  };
  const cbClose = fs.close;
  fs.close = function (fd, ...rest) {
    fds.delete(fd);
    return cbClose.call(this, fd, ...rest);
  };

  const fdOps = [
    ['write', 'write'],
    ['writev', 'write'],
    ['fsync', 'fsync'],
    ['fdatasync', 'fsync'],
    ['ftruncate', 'truncate']
  ];
  for (const [name, kind] of fdOps) {
    for (const n of [name, `${name}Sync`]) {
      const f = fs[n];
      if (typeof f !== 'function') continue;
      fs[n] = function (fd, data, ...rest) {
        if (fds.has(fd)) step(kind, fds.get(fd));
        return f.call(this, fd, data, ...rest);
      };
    }
  }

  // FileHandle (fs.promises.open): opening for writing, and its write, sync and truncate methods.
  const pOpen = fsp.open;
  fsp.open = async function (file, flags = 'r', ...rest) {
    if (inside(file) && writes(flags)) step('open', rel(file));
    const h = await pOpen.call(this, file, flags, ...rest);
    if (inside(file)) handles.set(h, rel(file));
    return h;
  };
  const handles = new WeakMap();
  const probe = await pOpen(process.execPath, 'r');
  const FileHandle = Object.getPrototypeOf(probe);
  await probe.close();
  for (const [name, kind] of [
    ['write', 'write'],
    ['writeFile', 'write'],
    ['appendFile', 'append'],
    ['sync', 'fsync'],
    ['datasync', 'fsync'],
    ['truncate', 'truncate']
  ]) {
    const f = FileHandle[name];
    FileHandle[name] = function (data, ...rest) {
      if (handles.has(this)) {
        step(kind, handles.get(this));
      }
      return f.call(this, data, ...rest);
    };
  }

  syncBuiltinESMExports();
}
