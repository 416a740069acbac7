/** RFC 8785 (JCS) canonical JSON, via the `canonicalize` package, with the value checks events need. */
import canonicalize from 'canonicalize';
import { utf8 } from './bytes.ts';

/** The canonical JSON text of a value. Throws TypeError for values JSON cannot carry (undefined, NaN, cycles). */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new TypeError('undefined has no canonical JSON form');
  let out: string | undefined;
  try {
    out = canonicalize(value);
  } catch (e) {
    throw new TypeError(`value has no canonical JSON form: ${(e as Error).message}`, { cause: e });
  }
  if (out === undefined) throw new TypeError('value has no canonical JSON form');
  return out;
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
