// Placeholder: the owner of the 'serve' command replaces it.
export async function run(_argv: string[]): Promise<number> {
  console.error("tensorloom: the 'serve' command is not implemented yet");
  return 2;
}
