// Files Vigil creates: written atomically (./atomic.ts). The ground floor: it imports nothing of Vigil's.
export {
  type AtomicWriteOptions,
  injectWriteFault,
  syncDirSync,
  writeFileAtomic,
  writeFileAtomicSync,
} from './atomic.ts';
