/**
 * The quarantine of a fetch: fetched objects land in a new pack and the remote's refs under
 * refs/remotes/quarantine/*; on any refusal both are removed, so nothing local changes. Accepted refs become
 * refs/remotes/<name>/* (what we last saw of that remote).
 */
import * as git from 'isomorphic-git';
import type { GitBinding } from './binding.ts';

export const Q = 'quarantine';
export const Q_REFS = `refs/remotes/${Q}`;


export async function packFiles(binding: GitBinding): Promise<Set<string>> {
  try {
    return new Set(await binding.fs.promises.readdir(`${binding.gitdir}/objects/pack`));
  } catch {
    return new Set();
  }
}

export async function dropQuarantine(binding: GitBinding, packsBefore: Set<string>): Promise<void> {
  const { fs, gitdir } = binding;
  for (const ref of await git.listRefs({ fs, gitdir, filepath: Q_REFS }).catch(() => [] as string[])) {
    await git.deleteRef({ fs, gitdir, ref: `${Q_REFS}/${ref}` }).catch(() => undefined);
  }
  for (const f of await packFiles(binding)) {
    if (!packsBefore.has(f)) await fs.promises.unlink(`${gitdir}/objects/pack/${f}`).catch(() => undefined);
  }
  await fs.promises.unlink(`${gitdir}/FETCH_HEAD`).catch(() => undefined);
}


export async function setTracking(binding: GitBinding, name: string, refs: Map<string, string>): Promise<void> {
  const { fs, gitdir } = binding;
  const prefix = `refs/remotes/${name}`;
  for (const r of await git.listRefs({ fs, gitdir, filepath: prefix }).catch(() => [] as string[])) {
    if (!refs.has(r)) await git.deleteRef({ fs, gitdir, ref: `${prefix}/${r}` });
  }
  for (const [r, oid] of refs) await git.writeRef({ fs, gitdir, ref: `${prefix}/${r}`, value: oid, force: true });
}
