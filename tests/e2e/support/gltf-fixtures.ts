/**
 * A textured box written with @gltf-transform/core in Node, as a .glb and as .gltf + .bin + .png, with known
 * counts: 24 vertices (4 per face, for flat normals and UVs), 12 triangles, 1 texture (4×4 PNG).
 */
import { Document, NodeIO } from '@gltf-transform/core';
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// glTF-Transform writes its own name as the generator; the test reads it back from the written .gltf.
export const BOX = { vertices: 24, triangles: 12 } as const;

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A w×h RGBA PNG of a checkerboard in two colours. */
export function png(w = 4, h = 4): Buffer {
  const rows: number[] = [];
  for (let y = 0; y < h; y++) {
    rows.push(0);
    for (let x = 0; x < w; x++) rows.push(...((x + y) % 2 ? [230, 120, 30, 255] : [30, 90, 160, 255]));
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0))
  ]);
}

function boxDocument(): Document {
  const doc = new Document();
  const buffer = doc.createBuffer('box');
  const faces = [
    [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1]
    ],
    [
      [-1, 0, 0],
      [0, 1, 0],
      [0, 0, -1]
    ],
    [
      [0, 1, 0],
      [0, 0, 1],
      [1, 0, 0]
    ],
    [
      [0, -1, 0],
      [0, 0, -1],
      [1, 0, 0]
    ],
    [
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0]
    ],
    [
      [0, 0, -1],
      [-1, 0, 0],
      [0, 1, 0]
    ]
  ];
  const pos: number[] = [];
  const nor: number[] = [];
  const uv: number[] = [];
  const idx: number[] = [];
  faces.forEach(([n, u, v], f) => {
    for (const [a, b] of [
      [-1, -1],
      [1, -1],
      [1, 1],
      [-1, 1]
    ]) {
      pos.push(...[0, 1, 2].map((k) => (n[k] + a * u[k] + b * v[k]) * 0.5));
      nor.push(...n);
      uv.push((a + 1) / 2, (b + 1) / 2);
    }
    idx.push(f * 4, f * 4 + 1, f * 4 + 2, f * 4, f * 4 + 2, f * 4 + 3);
  });
  const acc = (type: 'VEC3' | 'VEC2' | 'SCALAR', arr: Float32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>) =>
    doc.createAccessor().setType(type).setArray(arr).setBuffer(buffer);
  const texture = doc
    .createTexture('checker')
    .setImage(new Uint8Array(png()))
    .setMimeType('image/png')
    .setURI('box.png');
  const material = doc.createMaterial('box').setBaseColorTexture(texture).setRoughnessFactor(0.6);
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', acc('VEC3', new Float32Array(pos)))
    .setAttribute('NORMAL', acc('VEC3', new Float32Array(nor)))
    .setAttribute('TEXCOORD_0', acc('VEC2', new Float32Array(uv)))
    .setIndices(acc('SCALAR', new Uint16Array(idx)))
    .setMaterial(material);
  const mesh = doc.createMesh('box').addPrimitive(prim);
  const node = doc.createNode('box').setMesh(mesh).setRotation([0.2, 0.3, 0, 0.93]);
  doc.createScene('scene').addChild(node);
  return doc;
}

/** Writes box.glb and box.gltf + box.bin + box.png into dir; returns their paths. */
export async function writeBoxFixtures(dir: string) {
  mkdirSync(dir, { recursive: true });
  const io = new NodeIO();
  const doc = boxDocument();
  const glb = path.join(dir, 'box.glb');
  writeFileSync(glb, await io.writeBinary(doc));
  doc.getRoot().listBuffers()[0].setURI('box.bin');
  const { json, resources } = await io.writeJSON(doc);
  const gltf = path.join(dir, 'box.gltf');
  writeFileSync(gltf, JSON.stringify(json));
  for (const [uri, bytes] of Object.entries(resources)) writeFileSync(path.join(dir, uri), bytes);
  return { glb, gltf, bin: path.join(dir, 'box.bin'), png: path.join(dir, 'box.png') };
}
