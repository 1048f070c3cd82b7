/** Chat: templates, stop tokens, model.chat and ChatSession. */
export { ChatTemplate, ChatTemplateError, type ChatTemplateSpecials, type RenderOptions } from './template.js';
export { chat, chatStream, renderChat, chatTemplateFor, type ChatOptions, type ChatResult, type ChatStream, type AssistantMessage, type ChatModel } from './chat.js';
export { ChatSession, type ChatSessionOptions } from './session.js';
export { encodeTemplated } from './encode.js';
export { endOfGenerationIds } from './stop-tokens.js';
export type { ModelChatInfo } from './model-template.js';
export { isTemplatedText, type ChatMessage, type ToolCall, type ToolDefinition, type TemplatedText, type JsonSchema } from './types.js';
export { planTools, parseToolCalls, callGrammar, checkTools, toolCallFormat, toolCallPrefix, type ToolChoice, type ToolCallFormat, type ToolPlan } from './tools.js';
