/**
 * Function calling, the parts that need no model: the call format a template implies, the grammar
 * that forces a call (it must accept a valid call and reject invalid ones), reading calls back,
 * and the streaming gate that holds back text that may be a call.
 */
import { describe, expect, it } from 'vitest';
import { callGrammar, checkTools, parseToolCalls, planTools, toolCallFormat } from '../../ts/chat/tools.js';
import { GrammarRunner, parseGBNF } from '../../ts/grammar/index.js';
import { ToolStreamGate } from '../../ts/server/chat-request.js';

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const ping = { type: 'function' as const, function: { name: 'ping' } };

describe('tools', () => {
  it('picks the call format from the template', () => {
    expect(toolCallFormat('{% if tools %}<tool_call>{% endif %}')).toBe('hermes');
    expect(toolCallFormat('{{ "<|python_tag|>" }}<|eot_id|>')).toBe('llama3');
    expect(toolCallFormat('[TOOL_CALLS]')).toBe('mistral');
  });

  it('the forced-call grammar accepts exactly a call of an offered function with valid arguments', () => {
    const g = new GrammarRunner(parseGBNF(callGrammar('hermes', [weather, ping])));
    expect(g.matches('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>')).toBe(true);
    expect(g.matches('<tool_call>\n{"name": "ping", "arguments": {}}</tool_call>')).toBe(true);
    expect(g.matches('<tool_call>\n{"name": "get_weather", "arguments": {}}</tool_call>')).toBe(false); // city is required
    expect(g.matches('<tool_call>\n{"name": "nope", "arguments": {}}</tool_call>')).toBe(false);
    expect(g.matches('Sure! <tool_call>\n{"name": "ping", "arguments": {}}</tool_call>')).toBe(false);
    const l = new GrammarRunner(parseGBNF(callGrammar('llama3', [weather])));
    expect(l.matches('{"name": "get_weather", "parameters": {"city": "Oslo"}}')).toBe(true);
  });

  it('reads calls back, and leaves text that is not (only) calls alone', () => {
    const c = parseToolCalls('<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>\n<tool_call>{"name": "ping", "arguments": {}}</tool_call>', 'hermes')!;
    expect(c.map((x) => [x.function.name, JSON.parse(x.function.arguments)])).toEqual([['get_weather', { city: 'Oslo' }], ['ping', {}]]);
    expect(c[0]!.id).not.toBe(c[1]!.id);
    expect(parseToolCalls('{"name": "ping", "parameters": {}}', 'llama3')![0]!.function.name).toBe('ping');
    expect(parseToolCalls('[TOOL_CALLS][{"name": "ping", "arguments": {}}]', 'mistral')![0]!.function.name).toBe('ping');
    expect(parseToolCalls('It is sunny.', 'hermes')).toBeNull();
    expect(parseToolCalls('<tool_call>{"name": "ping", "argu', 'hermes')).toBeNull();
    expect(parseToolCalls('<tool_call>{"name": "ping"}</tool_call> and more', 'hermes')).toBeNull();
  });

  it('checks tools and tool_choice; a template without tools gets them in a system message', () => {
    expect(() => checkTools([{ type: 'function', function: { name: 'a b' } }], undefined)).toThrow(/name/);
    expect(() => checkTools([ping], { type: 'function', function: { name: 'x' } })).toThrow(/not among the tools/);
    expect(() => checkTools([], 'required')).toThrow(/needs tools/);
    expect(checkTools([ping], undefined).choice).toBe('auto');
    const plan = planTools('{% for m in messages %}{{ m.content }}{% endfor %}', [{ role: 'user', content: 'hi' }], [ping], 'required');
    expect(plan.messages[0]!.role).toBe('system');
    expect(plan.messages[0]!.content).toMatch(/"ping"/);
    expect(plan.grammar).toMatch(/tool_call/);
    expect(planTools('{{ tools }}', [{ role: 'user', content: 'hi' }], [ping], 'none')).toMatchObject({ tools: undefined, grammar: null, parse: false });
  });

  it('the stream gate holds back what may be a call, streams what cannot be', () => {
    const auto = planTools('{{ tools }}<tool_call>', [], [ping], 'auto');
    const text = new ToolStreamGate(auto);
    expect(text.push('<to')).toBe('');
    expect(text.push('day is')).toBe('<today is');
    expect(text.push(' fine')).toBe(' fine');
    expect(text.finish('stop')).toEqual({ calls: null, text: '' });
    const call = new ToolStreamGate(auto);
    expect(call.push(' <tool_')).toBe('');
    expect(call.push('call>{"name": "ping", "arguments": {}}</tool_call>')).toBe('');
    expect(call.finish('stop').calls![0]!.function.name).toBe('ping');
    const cut = new ToolStreamGate(auto);
    cut.push('<tool_call>{"name": "pi');
    expect(cut.finish('length')).toEqual({ calls: null, text: '<tool_call>{"name": "pi' });
  });
});
