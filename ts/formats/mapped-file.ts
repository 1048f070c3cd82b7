/**
 * The bytes of a model file, loaded once: memory-mapped through the native addon when it is
 * available (the weights stay in the page cache and are shared between processes), otherwise read
 * into one ArrayBuffer with `fs.readSync`. Tensor views point into these bytes; nothing is copied
 * again unless a tensor's offset is not aligned to its element size.
 *
 * Huge pages: decode streams every weight once per token, and over 4 KiB pages the TLB misses cost
 * a third of a 1B q8_0 model's decode time on the Zen 5 VM this was measured on (see
 * native/binding/files.cpp, "Page size"). The native mapping is 2 MiB-aligned and advised
 * MADV_HUGEPAGE, which helps whenever the file's pages come into the page cache through it; pages
 * already cached in 4 KiB folios (a file just written or read by another program) stay small.
 * Mode 'huge' moves the mapping's whole 2 MiB pages to anonymous huge pages holding the same bytes
 * (`hugePages(offset, length)` does it for a range: model-file.ts leaves out the tensors decode
 * reads sparsely): a private copy (read at load, and no longer shared between processes) that
 * streams at the 2 MiB-page rate however the page cache holds the file. Not the default: it trades
 * load time and sharing for decode speed, and the mapping is as fast when its pages are huge.
 *
 * A mapped file is read-only: writing through a view of it crashes the process (PROT_READ); so is
 * a 'huge' copy once read.
 * `close()` unmaps at once and detaches the buffer, so every view becomes empty instead of
 * dangling; without close() the mapping is released when the buffer is garbage-collected.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { loadAddon } from '../native/addon.js';
import { FormatError } from './byte-source.js';

declare module '../native/addon-types.js' {
  interface NativeAddon {
    mmapFile?(path: string): ArrayBuffer;
    hugePages?(buffer: ArrayBuffer, offset: number, length: number): number;
    munmapFile?(buffer: ArrayBuffer): boolean;
    residentBytes?(buffer: ArrayBuffer): number;
  }
}

export interface FileBytes {
  readonly path: string;
  /** The whole file. */
  readonly bytes: Uint8Array;
  /** True when memory-mapped, false when read into memory. */
  readonly mapped: boolean;
  /** Bytes of the file in RAM: the mapped pages present (mincore), or the whole size when read. */
  residentBytes(): number;
  /**
   * Moves the whole 2 MiB pages of [offset, offset + length) to private anonymous huge pages (same
   * addresses, same bytes); returns the bytes moved (0 where unsupported: not mapped, not Linux).
   */
  hugePages(offset: number, length: number): number;
  /** Unmaps (or drops) the bytes now; views into them become empty. Idempotent. */
  close(): void;
}

export type FileIoMode = 'auto' | 'read' | 'mmap' | 'huge';
const IO_MODES: readonly FileIoMode[] = ['auto', 'read', 'mmap', 'huge'];

/** The mode from the environment: TENSORLOOM_IO, else TENSORLOOM_NO_MMAP=1 → 'read', else 'auto'. */
export function defaultIoMode(): FileIoMode {
  const v = process.env.TENSORLOOM_IO;
  if (v) {
    if (!(IO_MODES as readonly string[]).includes(v)) throw new Error(`TENSORLOOM_IO must be one of ${IO_MODES.join(' | ')}, got '${v}'`);
    return v as FileIoMode;
  }
  return process.env.TENSORLOOM_NO_MMAP ? 'read' : 'auto';
}

export interface OpenOptions {
  /**
   * 'auto' (default): mmap when the addon has it; 'read': always fs.readSync; 'mmap': fail if
   * unavailable; 'huge': 'auto', then the whole file moved to anonymous 2 MiB pages (see above). Default from TENSORLOOM_IO=auto|read|mmap|huge (TENSORLOOM_NO_MMAP=1: 'read').
   */
  mode?: FileIoMode;
}

export function openFileBytes(path: string, options: OpenOptions = {}): FileBytes {
  const mode = options.mode ?? defaultIoMode();
  const addon = mode === 'read' ? null : loadAddon().addon;
  if (addon?.mmapFile && addon.munmapFile && addon.residentBytes) {
    const { mmapFile, munmapFile, residentBytes } = addon as Required<Pick<typeof addon, 'mmapFile' | 'munmapFile' | 'residentBytes'>>;
    let buffer: ArrayBuffer;
    try {
      buffer = mmapFile(path);
    } catch (err) {
      // 'auto': a runtime that refuses external buffers (or an mmap failure) still gets the file
      // read; a missing or empty file fails there with the same clear message.
      if (mode === 'auto' || mode === 'huge') return readWhole(path);
      throw new FormatError((err as Error).message);
    }
    let closed = false;
    const hugePages = (offset: number, length: number) => (!closed && addon.hugePages ? addon.hugePages(buffer, offset, length) : 0);
    if (mode === 'huge') hugePages(0, buffer.byteLength);
    return {
      path,
      bytes: new Uint8Array(buffer),
      mapped: true,
      hugePages,
      residentBytes: () => (closed ? 0 : residentBytes(buffer)),
      close() {
        if (!closed) {
          closed = true;
          munmapFile(buffer);
        }
      },
    };
  }
  if (mode === 'mmap') throw new Error('mmap is not available: the native addon is not loaded');
  return readWhole(path);
}

function readWhole(path: string): FileBytes {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FormatError(`cannot open '${path}': ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FormatError(`'${path}' is not a regular file`);
    if (st.size === 0) throw new FormatError(`'${path}' is empty`);
    let bytes: Uint8Array | null = new Uint8Array(st.size);
    let pos = 0;
    while (pos < st.size) {
      const n = readSync(fd, bytes, pos, Math.min(st.size - pos, 1 << 30), pos);
      if (n <= 0) throw new FormatError(`'${path}': unexpected end of file at byte ${pos}`);
      pos += n;
    }
    const size = st.size;
    return {
      path,
      get bytes() {
        if (!bytes) return new Uint8Array(0);
        return bytes;
      },
      mapped: false,
      hugePages: () => 0,
      residentBytes: () => (bytes ? size : 0),
      close() {
        bytes = null;
      },
    };
  } finally {
    closeSync(fd);
  }
}
