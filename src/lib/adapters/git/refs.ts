/**
 * The journal's repository layout and refs, read and written directly on the binding's file system (Node's fs
 * or IndexedDB), as git lays them out: no isomorphic-git, so the browser needs no Buffer polyfill.
 *
 *   HEAD                 "ref: refs/heads/main\n"
 *   config               [core] repositoryformatversion = 0, bare = true
 *   refs/heads/<name>    "<oid>\n" (loose refs)
 *   packed-refs          "<oid> <ref>\n" lines (written by `git pack-refs` / `git gc`; read, and rewritten
 *                        when a ref it holds is deleted)
 *
 * Loose refs are written to a temporary name and renamed where the file system can (Node), so a reader never
 * sees half a ref.
 */
import { OID_RE } from '../../core/journal/objects.ts';
import type { GitBinding, GitFs } from './binding.ts';

type Renamer = { rename?: (a: string, b: string) => Promise<void> };

const CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = false\n\tbare = true\n';

async function exists(fs: GitFs, path: string): Promise<boolean> {
  try {
    await fs.promises.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** mkdir -p (each level; "exists" is fine). */
export async function mkdirs(fs: GitFs, path: string): Promise<void> {
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (!p) continue;
    try {
      await fs.promises.mkdir(p);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' && !(await exists(fs, p))) throw e;
    }
  }
}

/** Creates a bare repository (HEAD -> refs/heads/main) at the binding's gitdir unless there is one. */
export async function initRepo(binding: GitBinding): Promise<void> {
  const { fs, gitdir } = binding;
  if (await exists(fs, `${gitdir}/HEAD`)) return;
  for (const d of ['objects/pack', 'objects/info', 'refs/heads', 'refs/tags']) await mkdirs(fs, `${gitdir}/${d}`);
  if (!(await exists(fs, `${gitdir}/config`)))
    await fs.promises.writeFile(`${gitdir}/config`, new TextEncoder().encode(CONFIG));
  await writeFileAtomic(fs, `${gitdir}/HEAD`, 'ref: refs/heads/main\n');
}

async function writeFileAtomic(fs: GitFs, path: string, text: string): Promise<void> {
  const data = new TextEncoder().encode(text);
  const rename = (fs.promises as Renamer).rename;
  if (!rename) return fs.promises.writeFile(path, data);
  const tmp = `${path}.lock`;
  await fs.promises.writeFile(tmp, data);
  await rename.call(fs.promises, tmp, path);
}

async function readText(fs: GitFs, path: string): Promise<string | undefined> {
  try {
    const b = await fs.promises.readFile(path);
    return typeof b === 'string' ? b : new TextDecoder().decode(b);
  } catch {
    return undefined;
  }
}

async function packedRefs(binding: GitBinding): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await readText(binding.fs, `${binding.gitdir}/packed-refs`);
  for (const line of (text ?? '').split('\n')) {
    const m = /^([0-9a-f]{40}) (refs\/\S+)$/.exec(line);
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

/** The commit a full ref name (refs/…) points at, or undefined. Follows one symbolic level (HEAD). */
export async function readRef(binding: GitBinding, ref: string): Promise<string | undefined> {
  const loose = (await readText(binding.fs, `${binding.gitdir}/${ref}`))?.trim();
  if (loose !== undefined) {
    if (OID_RE.test(loose)) return loose;
    const sym = /^ref: (refs\/\S+)$/.exec(loose);
    if (sym && ref === 'HEAD') return readRef(binding, sym[1]);
    return undefined;
  }
  return (await packedRefs(binding)).get(ref);
}

export async function writeRef(binding: GitBinding, ref: string, oid: string): Promise<void> {
  if (!OID_RE.test(oid)) throw new TypeError(`not an object id: ${oid}`);
  const path = `${binding.gitdir}/${ref}`;
  await mkdirs(binding.fs, path.slice(0, path.lastIndexOf('/')));
  await writeFileAtomic(binding.fs, path, `${oid}\n`);
}

export async function deleteRef(binding: GitBinding, ref: string): Promise<void> {
  const { fs, gitdir } = binding;
  await fs.promises.unlink(`${gitdir}/${ref}`).catch(() => undefined);
  const packed = await packedRefs(binding);
  if (packed.delete(ref)) {
    const lines = [...packed].map(([r, o]) => `${o} ${r}\n`).join('');
    await writeFileAtomic(fs, `${gitdir}/packed-refs`, `# pack-refs with: peeled fully-peeled sorted \n${lines}`);
  }
}

/** Every ref under `prefix` (e.g. "refs/heads"), as names relative to it, loose and packed, sorted. */
export async function listRefs(binding: GitBinding, prefix: string): Promise<Map<string, string>> {
  const { fs, gitdir } = binding;
  const out = new Map<string, string>();
  for (const [r, o] of await packedRefs(binding))
    if (r.startsWith(prefix + '/')) out.set(r.slice(prefix.length + 1), o);
  const walk = async (dir: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.promises.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.endsWith('.lock')) continue;
      const p = `${dir}/${name}`;
      const st = await fs.promises.stat(p).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(p, `${rel}${name}/`);
      else {
        const v = (await readText(fs, p))?.trim();
        if (v && OID_RE.test(v)) out.set(`${rel}${name}`, v);
      }
    }
  };
  await walk(`${gitdir}/${prefix}`, '');
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
