"""Independent reference: greedy decoding of a Hugging Face Llama / GPT-2 directory in plain PyTorch,
written from the Hugging Face modeling semantics (rotate_half RoPE, Conv1D [in, out] weights), so a
GGUF converted by tensorloom can be checked against llama.cpp running it.

usage: python3 torch_reference.py HF_DIR START_TOKEN STEPS   → prints the generated ids as JSON
"""
import json, math, struct, sys
import numpy as np
import torch

def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        dt = {'F32': np.float32, 'F16': np.float16}[e['dtype']]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=dt).astype(np.float32).reshape(e['shape']).copy())
    return out

def llama_logits(cfg, w, ids):
    d, H, Hkv = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    D, eps, T = d // H, cfg['rms_norm_eps'], len(ids)
    def rms(x, g): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g
    inv = 1.0 / (cfg['rope_theta'] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    f = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat([f, f], -1)
    cos, sin = emb.cos().float(), emb.sin().float()
    def rot(x):  # x: [h, T, D]
        x1, x2 = x[..., : D // 2], x[..., D // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin
    x = w['model.embed_tokens.weight'][ids]
    mask = torch.full((T, T), float('-inf')).triu(1)
    for l in range(cfg['num_hidden_layers']):
        p = f'model.layers.{l}.'
        h = rms(x, w[p + 'input_layernorm.weight'])
        q = (h @ w[p + 'self_attn.q_proj.weight'].T).view(T, H, D).transpose(0, 1)
        k = (h @ w[p + 'self_attn.k_proj.weight'].T).view(T, Hkv, D).transpose(0, 1)
        v = (h @ w[p + 'self_attn.v_proj.weight'].T).view(T, Hkv, D).transpose(0, 1)
        q, k = rot(q), rot(k)
        k = k.repeat_interleave(H // Hkv, 0)
        v = v.repeat_interleave(H // Hkv, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D) + mask, -1) @ v
        x = x + a.transpose(0, 1).reshape(T, d) @ w[p + 'self_attn.o_proj.weight'].T
        h = rms(x, w[p + 'post_attention_layernorm.weight'])
        g = h @ w[p + 'mlp.gate_proj.weight'].T
        u = h @ w[p + 'mlp.up_proj.weight'].T
        x = x + (torch.nn.functional.silu(g) * u) @ w[p + 'mlp.down_proj.weight'].T
    x = rms(x, w['model.norm.weight'])
    head = w.get('lm_head.weight', w['model.embed_tokens.weight'])
    return x[-1] @ head.T

def gpt2_logits(cfg, w, ids):
    d, H, eps, T = cfg['n_embd'], cfg['n_head'], cfg['layer_norm_epsilon'], len(ids)
    D = d // H
    def ln(x, p): return torch.nn.functional.layer_norm(x, (d,), w[p + '.weight'], w[p + '.bias'], eps)
    def gelu(x): return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))
    x = w['wte.weight'][ids] + w['wpe.weight'][:T]
    mask = torch.full((T, T), float('-inf')).triu(1)
    for l in range(cfg['n_layer']):
        p = f'h.{l}.'
        h = ln(x, p + 'ln_1')
        qkv = h @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']  # Conv1D: x @ W[in, out]
        q, k, v = (t.view(T, H, D).transpose(0, 1) for t in qkv.split(d, -1))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D) + mask, -1) @ v
        x = x + a.transpose(0, 1).reshape(T, d) @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias']
        h = ln(x, p + 'ln_2')
        x = x + gelu(h @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias']) @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias']
    x = ln(x, 'ln_f')
    return x[-1] @ w['wte.weight'].T

def main():
    d, start, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cfg = json.load(open(f'{d}/config.json'))
    w = load_safetensors(f'{d}/model.safetensors')
    fwd = gpt2_logits if cfg['model_type'] == 'gpt2' else llama_logits
    ids = [start]
    with torch.no_grad():
        for _ in range(steps):
            ids.append(int(torch.argmax(fwd(cfg, w, ids))))
    print(json.dumps(ids[1:]))

main()
