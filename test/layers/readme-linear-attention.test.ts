/**
 * The README's linear-attention example (the block after `<!-- linear-attention-example`) runs as
 * written, against this checkout's sources: it must decode 8 tokens and report a state whose size
 * does not depend on the sequence length (2 layers × 4 heads × (16·16 + 16) floats).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it, vi } from 'vitest';

it('the README linear-attention example runs and decodes with a fixed-size state', async () => {
  const root = join(__dirname, '..', '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /<!-- linear-attention-example[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  expect(block, 'README has the linear-attention example block').not.toBeNull();
  const dir = mkdtempSync(join(root, 'test', 'layers', '.readme-'));
  const entry = pathToFileURL(join(root, 'ts', 'index.ts')).href;
  const file = join(dir, 'example.ts');
  writeFileSync(file, block![1]!.replaceAll("from 'tensorloom'", `from '${entry}'`));
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await import(pathToFileURL(file).href);
    expect(log).toHaveBeenCalledTimes(1);
    const [ids, note] = log.mock.calls[0]! as [number[], string];
    expect(ids).toHaveLength(11);
    for (const id of ids) expect(Number.isInteger(id) && id >= 0 && id < 256).toBe(true);
    expect(note).toBe(`state: ${2 * 4 * (16 * 16 + 16) * 4} bytes for any length`);
  } finally {
    log.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
});
