/** Where the shared known-answer vectors live (../shared/vectors beside the checkout), if they exist. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const VECTORS_DIR = resolve(import.meta.dirname, '../../../../shared/vectors');
export const vectorsPresent = existsSync(VECTORS_DIR);
