/** Paths and small helpers shared by the model and generation tests. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getBackend } from '../../ts/backend/index.js';
import { storiesDir } from '../formats/helpers.js';

export { repoRoot, shared, storiesDir } from '../formats/helpers.js';

export const stories = {
  bin: join(storiesDir, 'stories260K.bin'),
  tok: join(storiesDir, 'tok512.bin'),
  f32: join(storiesDir, 'stories260K-f32.gguf'),
  f16: join(storiesDir, 'stories260K-f16.gguf'),
  q8: join(storiesDir, 'stories260K-q8_0.gguf'),
};
export const haveStories = existsSync(stories.bin) && existsSync(stories.f32);
export const storiesMissing = `../shared/models/stories260K not found (looked in ${storiesDir}): skipped`;

/** The text llama2.c (and llama.cpp) produce greedily from BOS on stories260K. */
export const STORIES_OPENING =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

export function nativeAvailable(): boolean {
  try {
    getBackend('native');
    return true;
  } catch {
    return false;
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
