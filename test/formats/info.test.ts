import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run as info } from '../../ts/cli/info.js';
import type { ModelSummary } from '../../ts/formats/describe.js';
import { haveStories, storiesDir } from './helpers.js';

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await info(argv);
    return { code, out: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
    write.mockRestore();
  }
}

describe.skipIf(!haveStories)('tensorloom info (../shared absent → skipped)', () => {
  it('--json on stories260K.bin: parameters from the file size, tokenizer found, nothing copied', async () => {
    const bin = join(storiesDir, 'stories260K.bin');
    const { code, out } = await capture([bin, '--json', '--touch']);
    expect(code).toBe(0);
    const s = JSON.parse(out) as ModelSummary;
    // Every f32 in the file except the 28-byte header and the unused RoPE tables (512 × 8 floats).
    expect(s.parameters).toBe((statSync(bin).size - 28) / 4 - 512 * 8);
    expect(s.architecture).toBe('llama2.c');
    expect(s.family).toBe('llama');
    expect(s.contextLength).toBe(512);
    expect(s.dtypes).toEqual({ F32: { tensors: 47, parameters: s.parameters, bytes: s.parameters * 4 } });
    expect(s.tokenizer).toMatchObject({ vocabSize: 512, matchesModel: true });
    expect(s.memory.copiedBytes).toBe(0);
    if (s.memory.mapped) expect(s.memory.residentBytes).toBeGreaterThan(0);
  });

  it('text output for the q8_0 GGUF names the dtypes, and bad usage exits 2', async () => {
    const { code, out } = await capture([join(storiesDir, 'stories260K-q8_0.gguf')]);
    expect(code).toBe(0);
    expect(out).toMatch(/Q8_0: 32 tensors/);
    expect(out).toMatch(/F16: 5 tensors/);
    expect(out).toMatch(/SentencePiece \(llama\), 512 tokens/);
    expect((await capture([])).code).toBe(2);
    expect((await capture(['a', 'b'])).code).toBe(2);
    await expect(capture(['/nonexistent/model.gguf'])).rejects.toThrow(/does not exist/);
  });
});
