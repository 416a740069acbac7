import * as A from '@automerge/automerge';
import fs from 'node:fs';
const f = process.argv[2];
const bytes = fs.readFileSync(f);
const a = [], b = [];
for (let r = 0; r < 8; r++) {
  let t = performance.now(); const d1 = A.load(bytes); a.push(performance.now() - t);
  t = performance.now(); const d2 = A.load(bytes, { unchecked: true }); b.push(performance.now() - t);
}
const med = (x) => x.sort((p, q) => p - q)[x.length >> 1].toFixed(0);
console.log('checked', med(a), 'unchecked', med(b));
