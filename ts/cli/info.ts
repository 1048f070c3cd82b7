// Placeholder: the owner of the 'info' command replaces it.
export async function run(_argv: string[]): Promise<number> {
  console.error("tensorloom: the 'info' command is not implemented yet");
  return 2;
}
