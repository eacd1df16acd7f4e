// Files Vigil creates, written atomically (./atomic.ts). The ground floor: it imports nothing of Vigil's.
export {
  type AtomicFile,
  type AtomicWriteOptions,
  createAtomicFile,
  injectWriteFault,
  syncDirSync,
  writeFileAtomic,
  writeFileAtomicSync,
} from './atomic.ts';
