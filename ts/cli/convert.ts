// Placeholder: the owner of the 'convert' command replaces it.
export async function run(_argv: string[]): Promise<number> {
  console.error("tensorloom: the 'convert' command is not implemented yet");
  return 2;
}
