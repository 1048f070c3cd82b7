/**
 * llama.cpp's split GGUF naming: NAME-00001-of-00003.gguf … NAME-00003-of-00003.gguf. A model in
 * shards is fetched (and cached, listed, removed) as one unit named by its first shard.
 */
const SHARD = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

export interface ShardName {
  prefix: string;
  index: number;
  count: number;
}

export function parseShardName(file: string): ShardName | null {
  const m = SHARD.exec(file);
  if (!m) return null;
  const index = Number(m[2]);
  const count = Number(m[3]);
  if (index < 1 || count < 1 || index > count) return null;
  return { prefix: m[1]!, index, count };
}

function shardFile(prefix: string, index: number, count: number): string {
  return `${prefix}-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;
}

/** All files of the model `file` belongs to (just [file] when it is not a shard), first shard first. */
export function shardSet(file: string): string[] {
  const s = parseShardName(file);
  if (!s) return [file];
  return Array.from({ length: s.count }, (_, i) => shardFile(s.prefix, i + 1, s.count));
}

/** The name a model is known by: its first shard, or the file itself. */
export function firstShard(file: string): string {
  return shardSet(file)[0]!;
}
