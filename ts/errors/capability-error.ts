/** A call the loaded model cannot serve (generate on an encoder, embed on a plain decoder, …). */
export class CapabilityError extends Error {
  override name = 'CapabilityError';
}
