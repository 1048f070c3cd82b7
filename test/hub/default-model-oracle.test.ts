/**
 * llama.cpp (node-llama-cpp) reads the committed default model and decodes it greedily exactly as
 * tensorloom does. A file of its own: node-llama-cpp and a model worker thread in one test process
 * make the process exit.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/model.js';
import { oracleGreedy, oracleMissing, oraclePath } from '../models/llama-cpp-oracle.js';
import { repoRoot } from '../models/helpers.js';

const committed = join(repoRoot, 'models', 'stories260K.gguf');

describe('the built-in default model vs llama.cpp', () => {
  it.skipIf(!oraclePath)(`llama.cpp loads the committed file and decodes the same greedy tokens ${oraclePath ? '' : oracleMissing}`, async () => {
    const theirs = (await oracleGreedy(committed, [1], 60)).tokens;
    const model = await loadModel(undefined, { worker: false });
    try {
      expect((await model.generate([1], { maxTokens: 60, temperature: 0 })).tokens).toEqual(theirs);
    } finally {
      await model.dispose();
    }
  });

});
