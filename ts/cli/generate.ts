// Placeholder: the owner of the 'generate' command replaces it.
export async function run(_argv: string[]): Promise<number> {
  console.error("tensorloom: the 'generate' command is not implemented yet");
  return 2;
}
