/**
 * The quarantine of a fetch is memory: the pack a remote sends is parsed and checked there (fetch.ts), and
 * only once the ledger has accepted its events is it written to objects/pack (with an index this module
 * builds), so a refused fetch leaves nothing behind. Accepted refs become refs/remotes/<name>/* (what we last saw of
 * that remote).
 */
import type { GitBinding } from './binding.ts';
import { buildIdx, type ParsedPack } from './pack.ts';
import { fromHex } from '../../core/bytes.ts';
import { deleteRef, listRefs, mkdirs, writeRef } from './refs.ts';

export async function packFiles(binding: GitBinding): Promise<Set<string>> {
  try {
    return new Set(await binding.fs.promises.readdir(`${binding.gitdir}/objects/pack`));
  } catch {
    return new Set();
  }
}

/** Stores an accepted pack as it came (pack + a version-2 index); returns its file name (without extension). */
export async function storePack(binding: GitBinding, bytes: Uint8Array, parsed: ParsedPack): Promise<string> {
  const { fs, gitdir } = binding;
  const idx = await buildIdx(parsed.entries, fromHex(parsed.sha));
  const name = `pack-${parsed.sha}`;
  await mkdirs(fs, `${gitdir}/objects/pack`);
  // The index last: a pack without its index is ignored by readers, so a write cut short is harmless.
  await fs.promises.writeFile(`${gitdir}/objects/pack/${name}.pack`, bytes);
  await fs.promises.writeFile(`${gitdir}/objects/pack/${name}.idx`, idx);
  return name;
}

export async function setTracking(binding: GitBinding, name: string, refs: Map<string, string>): Promise<void> {
  const prefix = `refs/remotes/${name}`;
  for (const r of (await listRefs(binding, prefix)).keys())
    if (!refs.has(r)) await deleteRef(binding, `${prefix}/${r}`);
  for (const [r, oid] of refs) await writeRef(binding, `${prefix}/${r}`, oid);
}

/** Old journals fetched through isomorphic-git into refs/remotes/quarantine: left-overs are removed. */
export async function dropOldQuarantine(binding: GitBinding): Promise<void> {
  for (const r of (await listRefs(binding, 'refs/remotes/quarantine')).keys())
    await deleteRef(binding, `refs/remotes/quarantine/${r}`);
}
