#!/usr/bin/env node
/**
 * Writes the app's PNG icons (static/icons/) from the favicon's drawing: the cube on the teal tile. Run once
 * after changing the drawing: `node scripts/make-icons.js`. No dependencies (node:zlib for the PNG's deflate).
 *
 * - icon-192.png, icon-512.png: the rounded tile, as favicon.svg (purpose "any");
 * - icon-maskable-512.png: the tile fills the square and the cube sits inside the central 80% safe zone.
 */
import { deflateSync } from 'node:zlib';
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BG = [0x1f, 0x4e, 0x5f];
const LIGHT = [0xf3, 0xef, 0xe6];
const GOLD = [0xe7, 0xb7, 0x5f];

// The favicon's strokes in its 32×32 box.
const OUTLINE = [
  [16, 5],
  [26, 10.5],
  [26, 21.5],
  [16, 27],
  [6, 21.5],
  [6, 10.5],
  [16, 5]
];
const INNER = [
  [
    [6, 10.5],
    [16, 16]
  ],
  [
    [16, 16],
    [26, 10.5]
  ],
  [
    [16, 16],
    [16, 27]
  ]
];

function distToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax,
    dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function draw(size, { maskable }) {
  const px = new Uint8Array(size * size * 4);
  // Drawing box: the whole 32-unit tile (any) or the cube scaled into the 80% safe zone (maskable).
  const scale = maskable ? (size * 0.8) / 32 / 1.15 : size / 32;
  const offset = (size - 32 * scale) / 2;
  const radius = maskable ? 0 : 7;
  const half = 1; // stroke width 2
  const SS = 4; // 4×4 supersampling
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0,
        g = 0,
        b = 0,
        a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const ux = (x + (sx + 0.5) / SS - offset) / scale;
          const uy = (y + (sy + 0.5) / SS - offset) / scale;
          // the tile
          let inTile;
          if (maskable) inTile = true;
          else {
            const cx = Math.min(Math.max(ux, radius), 32 - radius),
              cy = Math.min(Math.max(uy, radius), 32 - radius);
            inTile = ux >= 0 && ux <= 32 && uy >= 0 && uy <= 32 && Math.hypot(ux - cx, uy - cy) <= radius;
          }
          if (!inTile) continue;
          let c = BG;
          for (let i = 0; i < OUTLINE.length - 1; i++)
            if (distToSegment(ux, uy, OUTLINE[i], OUTLINE[i + 1]) <= half) c = LIGHT;
          for (const [p, q] of INNER) if (distToSegment(ux, uy, p, q) <= half) c = GOLD;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 255;
        }
      }
      const n = SS * SS,
        i = (y * size + x) * 4;
      if (a > 0) {
        const cov = a / 255;
        px[i] = Math.round(r / cov);
        px[i + 1] = Math.round(g / cov);
        px[i + 2] = Math.round(b / cov);
      }
      px[i + 3] = Math.round(a / n);
    }
  }
  return png(size, size, px);
}

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(buf) {
  let c = -1;
  for (const byte of buf) c = CRC[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function png(w, h, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) Buffer.from(rgba.buffer, y * w * 4, w * 4).copy(raw, y * (w * 4 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0))
  ]);
}

const dir = fileURLToPath(new URL('../static/icons/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}icon-192.png`, draw(192, { maskable: false }));
writeFileSync(`${dir}icon-512.png`, draw(512, { maskable: false }));
writeFileSync(`${dir}icon-maskable-512.png`, draw(512, { maskable: true }));
console.log(`icons written to ${dir}`);
