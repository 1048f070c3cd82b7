/** GGUF surgery shared by the T5 tests: a copy without some tensors / metadata, and an encoder-only (t5encoder) copy. */
import { readFileSync } from 'node:fs';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeGGUF, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';

/** A copy of `src` without the tensors `drop` names; `meta` renames (or drops: null) metadata entries; `extra` adds some. */
export function withoutTensors(src: string, out: string, drop: (name: string) => boolean, meta: (k: string, v: unknown) => [string, unknown] | null = (k, v) => [k, v], extra: [string, GGUFWriteValue][] = []): void {
  const bytes = new Uint8Array(readFileSync(src));
  const g = readGGUF(bytes);
  const entries: [string, GGUFWriteValue][] = [];
  for (const [k, v] of g.metadata) {
    const kv = meta(k, v);
    if (!kv) continue;
    entries.push([kv[0], (typeof kv[1] === 'number' || typeof kv[1] === 'bigint' ? { type: g.metadataTypes.get(k)!.type, value: kv[1] } : kv[1]) as GGUFWriteValue]);
  }
  entries.push(...extra);
  writeGGUF(out, { metadata: entries, tensors: g.tensors.filter((t) => !drop(t.name)).map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) })) });
}

/** The encoder of a t5 GGUF as llama.cpp's converter writes a T5EncoderModel: architecture t5encoder, no dec.* / output tensors. */
export function t5EncoderOnly(src: string, out: string, extra: [string, GGUFWriteValue][] = []): void {
  const meta = (k: string, v: unknown): [string, unknown] | null => {
    if (k === 'general.architecture') return [k, 't5encoder'];
    if (k === 't5.decoder_block_count' || k === 't5.decoder_start_token_id') return null;
    return [k.replace(/^t5\./, 't5encoder.'), v];
  };
  withoutTensors(src, out, (n) => n.startsWith('dec.') || n === 'output.weight', meta, extra);
}
