import { describe, expect, it } from 'vitest';
import { progressPrinter } from '../../ts/hub/progress-bar.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const out: string[] = [];
  const stream = { isTTY, write: (s: string) => out.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out.join('') };
}

describe('download progress on the CLI', () => {
  it('a TTY gets a bar redrawn in place, ending at 100%', () => {
    const { stream, text } = fakeStream(true);
    const p = progressPrinter(stream);
    p.onProgress({ file: 'm.gguf', fileIndex: 0, fileCount: 1, receivedBytes: 0, totalBytes: 2_000_000 });
    p.onProgress({ file: 'm.gguf', fileIndex: 0, fileCount: 1, receivedBytes: 2_000_000, totalBytes: 2_000_000 });
    p.done();
    const lines = text().split('\r').filter(Boolean);
    expect(lines[0]).toMatch(/^m\.gguf \[-{24}\] {3}0% 0\.0 MB\/2\.0 MB /);
    expect(lines.at(-1)).toMatch(/^m\.gguf \[#{24}\] 100% 2\.0 MB\/2\.0 MB .*\n$/);
  });

  it('a pipe gets one line per file, shards numbered', () => {
    const { stream, text } = fakeStream(false);
    const p = progressPrinter(stream);
    for (const fileIndex of [0, 1]) for (const receivedBytes of [10, 20]) p.onProgress({ file: `s${fileIndex}`, fileIndex, fileCount: 2, receivedBytes, totalBytes: 20 });
    p.done();
    expect(text()).toBe('downloading s0 (1/2) (0.0 MB)\ndownloading s1 (2/2) (0.0 MB)\n');
  });
});
