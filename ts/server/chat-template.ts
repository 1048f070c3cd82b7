/**
 * The server's view of ts/chat's ChatTemplate: a template that rejects a conversation is the
 * client's problem (400 naming `messages`), not a server error.
 */
import { ChatTemplate as Template, ChatTemplateError, type ChatTemplateSpecials, type RenderOptions } from '../chat/template.js';
import type { ChatMessage, TemplatedText } from '../chat/types.js';
import { RequestError } from './errors.js';

export class ChatTemplate {
  private readonly template: Template;

  constructor(source: string, specials: ChatTemplateSpecials = {}) {
    this.template = new Template(source, specials);
  }

  get source(): string {
    return this.template.source;
  }

  render(messages: readonly ChatMessage[], options: RenderOptions = {}): TemplatedText {
    try {
      return this.template.render(messages, options);
    } catch (err) {
      if (err instanceof ChatTemplateError) throw new RequestError(err.message, 'messages');
      throw err;
    }
  }
}
