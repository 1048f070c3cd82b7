/**
 * BERT from a Hugging Face directory (config.json, model.safetensors under HF names,
 * tokenizer.json, sentence-transformers' 1_Pooling/config.json) gives the same embeddings as the
 * GGUF it was written from: the HF → GGUF tensor names, the config keys and the pooling file.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB, ENCODER_CONFIGS, makeRandomEncoder } from '../../scripts/make-random-encoder.js';
import { loadEmbeddingModel } from '../../ts/embed/index.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeSafetensors } from '../../ts/formats/safetensors-writer.js';
import { loadTokenizer, toTokenizerJSON, type VocabTokenizer } from '../../ts/tokenizers/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-encoder-hf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GGUF name → HF BertModel name (the inverse of ts/models/bert.ts's mapping). */
function hfName(n: string): string {
  const fixed: Record<string, string> = {
    'token_embd.weight': 'bert.embeddings.word_embeddings.weight', 'position_embd.weight': 'bert.embeddings.position_embeddings.weight',
    'token_types.weight': 'bert.embeddings.token_type_embeddings.weight', 'token_embd_norm.weight': 'bert.embeddings.LayerNorm.gamma',
    'token_embd_norm.bias': 'bert.embeddings.LayerNorm.beta',
  };
  if (fixed[n]) return fixed[n]!;
  const m = /^blk\.(\d+)\.(.+)\.(weight|bias)$/.exec(n)!;
  const part: Record<string, string> = {
    attn_q: 'attention.self.query', attn_k: 'attention.self.key', attn_v: 'attention.self.value', attn_output: 'attention.output.dense',
    attn_output_norm: 'attention.output.LayerNorm', ffn_up: 'intermediate.dense', ffn_down: 'output.dense', layer_output_norm: 'output.LayerNorm',
  };
  return `encoder.layer.${m[1]}.${part[m[2]!]}.${m[3]}`;
}

describe.skipIf(!existsSync(BGE_VOCAB))('bert from a Hugging Face directory (bge vocabulary absent → skipped)', () => {
  it('embeds exactly as the GGUF it came from (cls pooling from 1_Pooling/config.json)', async () => {
    const gguf = join(dir, 'bert.gguf');
    makeRandomEncoder({ arch: 'bert', size: 'tiny', pooling: 'cls', seed: 9, gguf });
    const bytes = new Uint8Array(readFileSync(gguf));
    const g = readGGUF(bytes);
    const hf = join(dir, 'hf');
    mkdirSync(join(hf, '1_Pooling'), { recursive: true });
    const c = ENCODER_CONFIGS.tiny;
    const tok = loadTokenizer(gguf) as VocabTokenizer;
    writeFileSync(join(hf, 'config.json'), JSON.stringify({
      architectures: ['BertModel'], model_type: 'bert', hidden_size: c.dim, num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads,
      intermediate_size: c.ffnDim, max_position_embeddings: c.contextLength, vocab_size: tok.vocabSize, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu',
    }));
    writeFileSync(join(hf, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: c.dim, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }));
    writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify(toTokenizerJSON(tok)));
    writeSafetensors(join(hf, 'model.safetensors'), g.tensors.map((t) => ({
      name: hfName(t.name), dtype: 'F32' as const, shape: [...t.dims].reverse(),
      data: new Float32Array(bytes.slice(t.offset, t.offset + t.byteLength).buffer),
    })));
    await using a = await loadEmbeddingModel(gguf, { worker: false });
    await using b = await loadEmbeddingModel(hf, { worker: false });
    expect(b.info.embedding?.pooling).toBe('cls');
    const texts = ['hello world', 'The quick brown fox jumps over the lazy dog.'];
    const [va, vb] = [await a.embed(texts), await b.embed(texts)];
    for (let i = 0; i < texts.length; i++) expect(Array.from(vb[i]!)).toEqual(Array.from(va[i]!));
  });
});
