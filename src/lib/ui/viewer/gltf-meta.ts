/**
 * glTF metadata read with @gltf-transform/core (loaded on first use) in the page: generator, vertex and triangle counts,
 * meshes, materials, textures. Reads the user's local files (nothing is fetched from anywhere else): a .glb
 * from its bytes, a .gltf from its JSON plus the buffers and images it names, matched by file name.
 *
 * Counts are per mesh as stored (a mesh used by several nodes is counted once), which is what a file's
 * size and an artist's budget refer to. Triangles: indexed or not, for TRIANGLES, TRIANGLE_STRIP and
 * TRIANGLE_FAN primitives; points and lines count none.
 */
import type { Document } from '@gltf-transform/core';
import { externalUris, uriBaseName, type ModelFiles } from './model-files.ts';

export interface TextureInfo {
  name: string;
  mimeType: string;
  bytes: number;
  width?: number;
  height?: number;
}

export interface GltfMeta {
  generator: string | null;
  version: string;
  vertices: number;
  triangles: number;
  meshes: number;
  primitives: number;
  materials: number;
  nodes: number;
  animations: number;
  textures: TextureInfo[];
  /** Resources the .gltf names that were not among the chosen files. */
  missing: string[];
}

const TRIANGLES = 4;
const TRIANGLE_STRIP = 5;
const TRIANGLE_FAN = 6;

/**
 * The file's own asset.generator, from its JSON as written: @gltf-transform/core's reader puts its own name
 * ("glTF-Transform v4…") in the Document's asset, so the Document cannot say who made the file.
 */
export function ownGenerator(json: unknown): string | null {
  const asset =
    typeof json === 'object' && json !== null ? (json as { asset?: { generator?: unknown } }).asset : undefined;
  return typeof asset?.generator === 'string' ? asset.generator : null;
}

/** The JSON chunk of a GLB (header 12 bytes, then chunk length, type 'JSON', data), or null. */
export function glbJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength < 20) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== 0x46546c67 || view.getUint32(16, true) !== 0x4e4f534a) return null;
  const length = view.getUint32(12, true);
  if (20 + length > bytes.byteLength) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + length)));
  } catch {
    return null;
  }
}

function summarize(doc: Document, missing: string[], generator: string | null): GltfMeta {
  const root = doc.getRoot();
  let vertices = 0;
  let triangles = 0;
  let primitives = 0;
  for (const mesh of root.listMeshes()) {
    for (const prim of mesh.listPrimitives()) {
      primitives++;
      const n = prim.getAttribute('POSITION')?.getCount() ?? 0;
      vertices += n;
      const count = prim.getIndices()?.getCount() ?? n;
      const mode = prim.getMode();
      if (mode === TRIANGLES) triangles += Math.floor(count / 3);
      else if (mode === TRIANGLE_STRIP || mode === TRIANGLE_FAN) triangles += Math.max(0, count - 2);
    }
  }
  const textures = root.listTextures().map((t) => {
    const size = t.getSize();
    return {
      name: t.getName() || t.getURI() || '(embedded)',
      mimeType: t.getMimeType(),
      bytes: t.getImage()?.byteLength ?? 0,
      ...(size ? { width: size[0], height: size[1] } : {})
    };
  });
  const asset = root.getAsset();
  return {
    generator,
    version: asset.version,
    vertices,
    triangles,
    meshes: root.listMeshes().length,
    primitives,
    materials: root.listMaterials().length,
    nodes: root.listNodes().length,
    animations: root.listAnimations().length,
    textures,
    missing
  };
}

export async function readGltfMeta(model: ModelFiles): Promise<GltfMeta> {
  // Loaded when a model is read, as three.js is for the preview: most visits to an asset page never need it.
  const { WebIO } = await import('@gltf-transform/core');
  const io = new WebIO();
  if (model.kind === 'glb') {
    const bytes = new Uint8Array(await model.main.arrayBuffer());
    return summarize(await io.readBinary(bytes), [], ownGenerator(glbJson(bytes)));
  }
  const json = JSON.parse(await model.main.text());
  const resources: Record<string, Uint8Array> = {};
  const missing: string[] = [];
  for (const uri of externalUris(json)) {
    const f = model.byName.get(uriBaseName(uri));
    if (f) resources[uri] = new Uint8Array(await f.arrayBuffer());
    else missing.push(uriBaseName(uri));
  }
  if (missing.length) return { ...emptyMeta(json), missing };
  const generator = ownGenerator(json);
  return summarize(
    await io.readJSON({ json, resources: resources as Record<string, Uint8Array<ArrayBuffer>> }),
    [],
    generator
  );
}

function emptyMeta(json: { asset?: { generator?: unknown; version?: unknown } }): GltfMeta {
  return {
    generator: ownGenerator(json),
    version: typeof json.asset?.version === 'string' ? json.asset.version : '?',
    vertices: 0,
    triangles: 0,
    meshes: 0,
    primitives: 0,
    materials: 0,
    nodes: 0,
    animations: 0,
    textures: [],
    missing: []
  };
}
