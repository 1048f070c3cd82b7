/**
 * Chat templates: the Jinja source a model ships (GGUF `tokenizer.chat_template`, or
 * `chat_template` in a Hugging Face tokenizer_config.json) turns a list of messages into the
 * prompt text the model was trained on. Rendered with @huggingface/jinja.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './validate.js';
import { RequestError } from './errors.js';

export class ChatTemplate {
  private readonly template: Template;

  /** Parses once; a template the parser rejects is an error at load, not per request. */
  constructor(
    readonly source: string,
    private readonly specials: { bosToken?: string; eosToken?: string } = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new Error(`tensorloom: the model's chat template does not parse: ${(err as Error).message}`);
    }
  }

  /** The prompt for `messages`, ending where the assistant's reply begins. */
  render(messages: readonly ChatMessage[]): string {
    try {
      return this.template.render({
        messages,
        add_generation_prompt: true,
        bos_token: this.specials.bosToken ?? '',
        eos_token: this.specials.eosToken ?? '',
      });
    } catch (err) {
      // Templates reject conversations they can't express (raise_exception), e.g. roles that don't alternate.
      throw new RequestError(`the model's chat template rejected these messages: ${(err as Error).message}`, 'messages');
    }
  }
}
