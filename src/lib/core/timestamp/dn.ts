/** Distinguished names as readable text, RFC 4514 style: the last RDN first, "CN=Test TSA, O=Example, C=ZZ". */
import type { RelativeDistinguishedNames } from 'pkijs';
import { toHex } from '../bytes.ts';

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress'
};

/** RFC 4514 section 2.4 escaping of an attribute value; control characters as \XX. */
function escapeValue(v: string): string {
  let s = v
    .replace(/[\\"+,;<>]/g, (c) => '\\' + c)
    .replace(/[\x00-\x1f\x7f]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  if (/^[ #]/.test(s)) s = '\\' + s;
  if (/ $/.test(s)) s = s.slice(0, -1) + '\\ ';
  return s;
}

export function formatName(name: RelativeDistinguishedNames): string {
  // pkijs flattens multi-valued RDNs into one list; each entry is shown as its own RDN.
  return name.typesAndValues
    .map((tv) => {
      const type = SHORT_NAMES[tv.type] ?? tv.type;
      const v = tv.value as { valueBlock?: { value?: unknown }; valueBeforeDecodeView?: Uint8Array } | undefined;
      const text = v?.valueBlock?.value;
      // A value that is not a string is shown as '#' and the hex of its BER, as RFC 4514 does.
      if (typeof text !== 'string') return `${type}=#${toHex(v?.valueBeforeDecodeView ?? new Uint8Array(0))}`;
      return `${type}=${escapeValue(text)}`;
    })
    .reverse()
    .join(', ');
}
