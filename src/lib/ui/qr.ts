/**
 * A QR code as an SVG path (one square per dark module), from the npm package qrcode-generator. The page
 * renders the path in an <svg> element: no markup strings, no {@html}.
 */
import qrcode from 'qrcode-generator';

export interface QrPath {
  /** Modules per side, plus the 4-module quiet zone on each side. */
  size: number;
  d: string;
}

export function qrPath(text: string): QrPath {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
  return { size: n + 8, d };
}
