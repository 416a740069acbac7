/**
 * The local files of one glTF model, as the user picked or dropped them: the main file (.glb or .gltf) and,
 * for a .gltf, the .bin buffers and textures its JSON refers to, matched by file name. Nothing is uploaded:
 * the viewer and the metadata reader get the bytes from these File objects (blob: URLs, arrayBuffer()).
 */
export interface ModelFiles {
  main: File;
  kind: 'glb' | 'gltf';
  /** Every file by its base name (the main file too). */
  byName: Map<string, File>;
}

const ext = (name: string) => /\.([A-Za-z0-9]{1,16})$/.exec(name)?.[1].toLowerCase() ?? '';

/** The base name a glTF uri refers to (decoded, without directories, query or fragment). */
export function uriBaseName(uri: string): string {
  let u = uri.split(/[?#]/)[0];
  try {
    u = decodeURIComponent(u);
  } catch {
    /* keep as written */
  }
  return u.split(/[\\/]/).pop() ?? u;
}

/** Picks the model among the files: the one .glb or .gltf (the first when there are several). */
export function modelFiles(files: readonly File[]): ModelFiles | null {
  const main = files.find((f) => ext(f.name) === 'glb') ?? files.find((f) => ext(f.name) === 'gltf');
  if (!main) return null;
  return { main, kind: ext(main.name) as 'glb' | 'gltf', byName: new Map(files.map((f) => [f.name, f])) };
}

/** The external resources a .gltf JSON names (buffers and images; data: URIs are embedded, not files). */
export function externalUris(json: unknown): string[] {
  const g = (typeof json === 'object' && json !== null ? json : {}) as { buffers?: unknown; images?: unknown };
  const list = [...(Array.isArray(g.buffers) ? g.buffers : []), ...(Array.isArray(g.images) ? g.images : [])];
  return list
    .map((x) => (typeof x === 'object' && x !== null ? (x as { uri?: unknown }).uri : undefined))
    .filter((u): u is string => typeof u === 'string' && !u.startsWith('data:'));
}
