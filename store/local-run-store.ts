/**
 * The embedded run store: a directory per run under one root (default `.evolforge/runs`), in the layout of
 * store/object-run-store.ts, each object a file (store/file-objects.ts).
 */
import { FileObjects } from './file-objects';
import { ObjectRunStore } from './object-run-store';

export { RUN_ID_PATTERN, checkRunId } from './object-run-store';
export type { RunListing } from './types';

export class LocalRunStore extends ObjectRunStore {
  constructor(readonly root: string) {
    super(new FileObjects(root));
  }
}
