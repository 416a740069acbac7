import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { runStorageAdapterTests } from './storage-suite.ts';

runStorageAdapterTests('MemoryStorage', async () => ({ adapter: new MemoryStorage(), teardown: () => {} }));
