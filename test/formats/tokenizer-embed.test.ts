import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { convertModel } from '../../ts/models/convert.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { writeSafetensors } from '../../ts/formats/safetensors-writer.js';
import { loadTokenizer, toTokenizerJSON, type VocabTokenizer } from '../../ts/tokenizers/index.js';
import { haveVocabs, vocabDir } from './helpers.js';
import { peersPath } from './oracles.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-tokembed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** llama.cpp's conformance vectors: inputs separated by "\n__ggml_vocab_test__\n", one line of ids each. */
function vectors(name: string): { input: string; ids: number[] }[] {
  const base = join(vocabDir, `ggml-vocab-${name}.gguf`);
  const inputs = readFileSync(`${base}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  inputs.pop();
  const lines = readFileSync(`${base}.out`, 'utf8').split('\n');
  return inputs.map((input, i) => ({ input, ids: lines[i]!.trim() === '' ? [] : lines[i]!.trim().split(/\s+/).map(Number) }));
}

/** A 1-layer Llama HF directory around a tokenizer.json (the weights only need the right shapes). */
function hfDirWith(name: string, tokenizerJson: unknown, vocabSize: number): string {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  const dim = 32;
  const ffn = 64;
  writeFileSync(join(d, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: dim, intermediate_size: ffn, num_attention_heads: 2,
    num_key_value_heads: 2, num_hidden_layers: 1, vocab_size: vocabSize, max_position_embeddings: 64, rms_norm_eps: 1e-5, tie_word_embeddings: true,
  }));
  const shapes: [string, number[]][] = [
    ['model.embed_tokens.weight', [vocabSize, dim]], ['model.layers.0.input_layernorm.weight', [dim]],
    ['model.layers.0.self_attn.q_proj.weight', [dim, dim]], ['model.layers.0.self_attn.k_proj.weight', [dim, dim]],
    ['model.layers.0.self_attn.v_proj.weight', [dim, dim]], ['model.layers.0.self_attn.o_proj.weight', [dim, dim]],
    ['model.layers.0.post_attention_layernorm.weight', [dim]], ['model.layers.0.mlp.gate_proj.weight', [ffn, dim]],
    ['model.layers.0.mlp.up_proj.weight', [ffn, dim]], ['model.layers.0.mlp.down_proj.weight', [dim, ffn]], ['model.norm.weight', [dim]],
  ];
  writeSafetensors(join(d, 'model.safetensors'), shapes.map(([n, shape]) => ({
    name: n, dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) * 0.1),
  })));
  return d;
}

describe.skipIf(!haveVocabs)('HF tokenizer.json → GGUF tokenizer metadata (../shared absent → skipped)', () => {
  for (const [name, model] of [['llama-spm', 'llama'], ['gpt-2', 'gpt2']] as const) {
    it.skipIf(!peersPath)(`${name}: llama.cpp, given only our converted GGUF, tokenizes all of its own conformance vectors as expected (node-llama-cpp absent → skipped)`, async () => {
      // tokenizer.json made from llama.cpp's vocabulary by ts/tokenizers, then embedded back by convert.
      const tok = (await loadTokenizer(join(vocabDir, `ggml-vocab-${name}.gguf`))) as VocabTokenizer;
      const hf = hfDirWith(name, toTokenizerJSON(tok), tok.vocabSize);
      const out = join(dir, `${name}.gguf`);
      using m = openModelFile(hf);
      convertModel(m, out);
      const g = readGGUF(out);
      expect(g.metadata.get('tokenizer.ggml.model')).toBe(model);
      if (model === 'gpt2') expect(g.metadata.get('tokenizer.ggml.pre')).toBe('gpt-2');

      const mod = (await import(pathToFileURL(peersPath!).href)) as { getLlama(o: object): Promise<{ loadModel(o: object): Promise<{ tokenize(t: string, special: boolean): number[]; dispose(): Promise<void> }> }> };
      const llama = await mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' });
      const lm = await llama.loadModel({ modelPath: out, vocabOnly: true });
      try {
        const cases = vectors(name);
        expect(cases.length).toBeGreaterThan(30);
        for (const { input, ids } of cases) expect(Array.from(lm.tokenize(input, false)), JSON.stringify(input)).toEqual(ids);
      } finally {
        await lm.dispose();
      }
    });
  }
});
