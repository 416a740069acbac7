/**
 * Git packfiles without git: the writer (pack-write.ts), git deltas (pack-delta.ts), the readers
 * (pack-read.ts) and what they share (pack-format.ts). The formats are described in each.
 */
export { applyDelta, deltaIndex, makeDelta } from './pack-delta.ts';
export { crc32, PackError, PackErrorCode } from './pack-format.ts';
export { idxOids, parsePack, readPack, type ParsedPack, type ParsedPackEntry } from './pack-read.ts';
export { buildIdx, buildPack, type Deflate, type WrittenPack } from './pack-write.ts';
