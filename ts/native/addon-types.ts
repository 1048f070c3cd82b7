/**
 * The raw exports of the native addon (native/binding/*.cpp). Internal: users go through
 * `ts/backend/`. Each kernel family adds its functions here next to its binding file.
 */
export interface NativeInfo {
  isa: string;
  detectedIsa: string;
  threads: number;
  physicalCores: number;
  cuda: boolean;
}

export interface NativeAddon {
  info(): NativeInfo;
  setThreads(n: number): number;
  setIsa(isa: string): { isa: string; supported: boolean };
  // Families extend this interface through declaration merging in their own files
  // (see ts/backend/native/*.ts), so this file stays free of per-family edits.
  [fn: string]: unknown;
}
