// Placeholder: the owner of the 'tokenize' command replaces it.
export async function run(_argv: string[]): Promise<number> {
  console.error("tensorloom: the 'tokenize' command is not implemented yet");
  return 2;
}
