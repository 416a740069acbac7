/**
 * Files dropped for one generation, grouped into model sets: a .gltf with the .bin buffers and textures it
 * refers to share the set label "robot.gltf". The .gltf JSON is read in the page (a few KB) only for its
 * buffer and image URIs; nothing is uploaded.
 */
export const MODEL_EXT = ['glb', 'gltf', 'fbx', 'obj', 'usdz', 'usd', 'stl', 'ply', 'blend'];
export const IMAGE_EXT = ['png', 'jpg', 'jpeg', 'webp', 'ktx2'];
export const ACCEPT_OUTPUTS = '.glb,.gltf,.bin,.fbx,.obj,.mtl,.usdz,.usd,.stl,.ply,.png,.jpg,.jpeg,.webp,.ktx2';
export const ACCEPT_INPUTS = '.png,.jpg,.jpeg,.webp,.glb,.gltf,.bin,.obj,.fbx,.stl,.usdz';

export const extOf = (name: string): string => /\.([A-Za-z0-9]{1,16})$/.exec(name)?.[1].toLowerCase() ?? '';

export function roleOf(name: string): string | undefined {
  const ext = extOf(name);
  if (MODEL_EXT.includes(ext)) return 'model';
  if (ext === 'bin') return 'buffer';
  if (ext === 'mtl') return 'material';
  if (IMAGE_EXT.includes(ext)) return 'texture';
  return undefined;
}

const baseName = (uri: string): string => {
  try {
    uri = decodeURIComponent(uri);
  } catch {
    /* keep it as written */
  }
  return uri.split(/[\\/]/).pop() ?? uri;
};

/** The file names a glTF JSON refers to (buffers and images with a relative uri, not data: URIs). */
export function gltfReferences(json: string): string[] {
  try {
    const g = JSON.parse(json) as { buffers?: { uri?: unknown }[]; images?: { uri?: unknown }[] };
    const uris = [...(g.buffers ?? []), ...(g.images ?? [])]
      .map((x) => x?.uri)
      .filter((u): u is string => typeof u === 'string' && !u.startsWith('data:'));
    return uris.map(baseName);
  } catch {
    return [];
  }
}

/**
 * The set label of each file (same order): files a .gltf refers to join its set; with one .gltf, any other
 * .bin or texture joins it too; an .obj takes its .mtl and textures of the same base name. Others stand alone.
 */
export async function groupSets(files: readonly File[]): Promise<(string | undefined)[]> {
  const sets: (string | undefined)[] = files.map(() => undefined);
  const gltfs = files.map((f, i) => [f, i] as const).filter(([f]) => extOf(f.name) === 'gltf');
  for (const [f, i] of gltfs) {
    sets[i] = f.name;
    const refs = f.size < 50_000_000 ? gltfReferences(await f.text()) : [];
    files.forEach((g, j) => {
      if (sets[j] === undefined && refs.includes(g.name)) sets[j] = f.name;
    });
  }
  if (gltfs.length === 1) {
    const only = gltfs[0][0].name;
    files.forEach((g, j) => {
      const r = roleOf(g.name);
      if (sets[j] === undefined && (r === 'buffer' || r === 'texture')) sets[j] = only;
    });
  }
  const objs = files.filter((f) => extOf(f.name) === 'obj');
  for (const o of objs) {
    const stem = o.name.replace(/\.[^.]+$/, '');
    files.forEach((g, j) => {
      if (sets[j] !== undefined) return;
      if (g === o || (g.name.startsWith(stem) && (extOf(g.name) === 'mtl' || roleOf(g.name) === 'texture')))
        sets[j] = o.name;
    });
  }
  // A set of one file says nothing: drop it, except a lone .gltf (its buffers may be embedded).
  const size = new Map<string, number>();
  for (const s of sets) if (s) size.set(s, (size.get(s) ?? 0) + 1);
  return sets.map((s, i) => (s && (size.get(s)! > 1 || extOf(files[i].name) === 'gltf') ? s : undefined));
}
