/**
 * A conversation with a model: the history (system prompt, then user / assistant turns), one
 * `send` or `stream` per user turn. Each turn renders the whole history again; the model's KV cache
 * still holds the previous turn's prompt and reply, so only the new tokens run (see
 * `usage.cachedPromptTokens`), as long as no other call used the model in between.
 *
 *   await using session = new ChatSession(model, { systemPrompt: 'Be brief.' });
 *   const a = await session.send('Hi!');
 *   for await (const chunk of session.stream('And then?')) process.stdout.write(chunk);
 */
import '../dispose-symbols.js';
import { chat, chatStream, type ChatModel, type ChatOptions, type ChatResult, type ChatStream } from './chat.js';
import type { ChatMessage } from './types.js';

export interface ChatSessionOptions extends ChatOptions {
  /** First message of every conversation (role `system`). */
  systemPrompt?: string;
  /** Earlier turns to continue from (after the system prompt). */
  history?: readonly ChatMessage[];
}

export class ChatSession implements AsyncDisposable {
  private messages: ChatMessage[];
  private readonly defaults: ChatOptions;
  private busy: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly model: ChatModel,
    private readonly options: ChatSessionOptions = {},
  ) {
    const { systemPrompt: _s, history: _h, ...defaults } = options;
    this.defaults = defaults;
    this.messages = this.initial();
  }

  /** The conversation so far (a copy). */
  get history(): ChatMessage[] {
    return this.messages.map((m) => ({ ...m }));
  }

  /** Sends a user message (or any message, e.g. a tool result) and resolves with the reply, which joins the history. */
  send(message: string | ChatMessage, options: ChatOptions = {}): Promise<ChatResult> {
    let turn: ChatMessage;
    try {
      turn = this.turn(message);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const run = async (): Promise<ChatResult> => {
      const r = await chat(this.model, [...this.messages, turn], { ...this.defaults, ...options });
      this.messages.push(turn, r.message);
      return r;
    };
    return this.enqueue(run);
  }

  /** As send, streaming the reply; it joins the history when `result` resolves (not after an abort). */
  stream(message: string | ChatMessage, options: ChatOptions = {}): ChatStream {
    const turn = this.turn(message);
    let started!: (s: ChatStream) => void;
    const ready = new Promise<ChatStream>((r) => (started = r));
    const result = this.enqueue(async () => {
      const s = chatStream(this.model, [...this.messages, turn], { ...this.defaults, ...options });
      started(s);
      const r = await s.result;
      this.messages.push(turn, r.message);
      return r;
    });
    result.catch(() => undefined);
    return {
      result,
      async *[Symbol.asyncIterator]() {
        const s = await Promise.race([ready, result.then(() => null, (err: unknown) => Promise.reject(err))]);
        if (s) yield* s;
      },
    };
  }

  /** Forgets the turns (the system prompt and the initial history stay). */
  reset(): void {
    this.messages = this.initial();
  }

  /** Waits for a turn in progress; the session then refuses new turns. The model stays loaded. */
  async dispose(): Promise<void> {
    this.closed = true;
    await this.busy.catch(() => undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private initial(): ChatMessage[] {
    const out: ChatMessage[] = [];
    if (this.options.systemPrompt !== undefined) out.push({ role: 'system', content: this.options.systemPrompt });
    for (const m of this.options.history ?? []) out.push({ ...m });
    return out;
  }

  private turn(message: string | ChatMessage): ChatMessage {
    if (this.closed) throw new Error('tensorloom: this chat session has been disposed');
    if (typeof message === 'string') return { role: 'user', content: message };
    if (typeof message !== 'object' || message === null || typeof message.role !== 'string') {
      throw new TypeError('tensorloom: send a string or a message { role, content }');
    }
    return { ...message };
  }

  /** Turns run one after another (each needs the previous reply in the history). */
  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    const p = this.busy.then(run, run);
    this.busy = p.catch(() => undefined);
    return p;
  }
}
