// N-API glue for attention and RoPE: argument checks (check.h) → raw pointers → kernels.
//
//   attention(out, q, k, v, T, S, H, Hkv, D, posOffset, causal, scale, ropeLayout, ropeTheta, ropeDims, seqBounds,
//             softcap, positionBias)
//     out, q: Float32Array [T, H, D]; k, v: Float32Array or Uint16Array (f16 bits) [S, Hkv, D];
//     ropeLayout: null (no RoPE) | 'interleaved' | 'half';
//     seqBounds: undefined/null, or an Int32Array [0, …, T] of a packed batch (S == T, posOffset 0);
//     softcap: undefined or a finite number >= 0 (0 = none);
//     positionBias: undefined/null, or a Float32Array [H, T, S] added to the scores.
//   rope(x, T, nHeads, D, posOffset, ropeLayout, ropeTheta, ropeDims)   x: Float32Array [T, nHeads, D]
#include <cmath>
#include <string>

#include "binding/check.h"
#include "kernels/attention.h"
#include "kernels/rope.h"

namespace tl::binding {

namespace {

constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxPositions = ((int64_t)1 << 31) - 1;  // key indices are int32 in the kernels

std::string shape3(const char* a, int64_t x, const char* b, int64_t y, const char* c, int64_t z) {
  return std::string("[") + a + "=" + std::to_string(x) + ", " + b + "=" + std::to_string(y) + ", " + c + "=" +
         std::to_string(z) + "]";
}

// Parses the three RoPE arguments starting at `index`; layout null/undefined = no RoPE.
RopeParams rope_args(const Napi::CallbackInfo& info, size_t index, int64_t D, bool required) {
  Napi::Env env = info.Env();
  RopeParams r;
  Napi::Value layout = index < info.Length() ? info[index] : env.Undefined();
  if (layout.IsNull() || layout.IsUndefined()) {
    if (required) throw_type(env, "rope.layout must be 'interleaved' or 'half'");
    return r;
  }
  if (!layout.IsString()) throw_type(env, "rope.layout must be 'interleaved' or 'half'");
  std::string name = layout.As<Napi::String>();
  if (name == "interleaved")
    r.layout = RopeLayout::Interleaved;
  else if (name == "half")
    r.layout = RopeLayout::Half;
  else
    throw_range(env, "rope.layout must be 'interleaved' or 'half', got '" + name + "'");
  r.theta = number(info, index + 1, "rope.theta");
  if (!(r.theta > 0) || !std::isfinite(r.theta)) throw_range(env, "rope.theta must be a finite number > 0");
  r.dims = (int)dim(info, index + 2, "rope.dims", 2, D);
  if (r.dims % 2 != 0) throw_range(env, "rope.dims must be even, got " + std::to_string(r.dims));
  r.enabled = true;
  return r;
}

bool overlaps(const void* a, size_t abytes, const void* b, size_t bbytes) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  return pa < pb + bbytes && pb < pa + abytes;
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = dim(info, 4, "T", 1, kMaxPositions);
  const int64_t S = dim(info, 5, "S", 1, kMaxPositions);
  const int64_t H = dim(info, 6, "H", 1, 1 << 20);
  const int64_t Hkv = dim(info, 7, "Hkv", 1, 1 << 20);
  const int64_t D = dim(info, 8, "D", 1, kMaxHeadDim);
  const int64_t pos = dim(info, 9, "posOffset", 0, kMaxPositions);
  if (H % Hkv != 0)
    throw_range(env, "H (" + std::to_string(H) + ") must be a multiple of Hkv (" + std::to_string(Hkv) + ")");
  if (info.Length() <= 10 || !info[10].IsBoolean()) throw_type(env, "causal must be a boolean");
  const bool causal = info[10].As<Napi::Boolean>();
  const double scale = number(info, 11, "scale");
  if (!std::isfinite(scale)) throw_range(env, "scale must be a finite number");
  const RopeParams rope = rope_args(info, 12, D, false);
  if ((causal || rope.enabled) && S < pos + T)
    throw_range(env, "S (" + std::to_string(S) + ") must be >= posOffset + T (" + std::to_string(pos + T) +
                         "): the KV cache must hold the new positions");

  const int64_t qn = checked_mul(env, checked_mul(env, T, H, "T*H"), D, "T*H*D");
  const int64_t kvn = checked_mul(env, checked_mul(env, S, Hkv, "S*Hkv"), D, "S*Hkv*D");
  const auto qshape = [&] { return shape3("T", T, "H", H, "D", D); };
  const auto kvshape = [&] { return shape3("S", S, "Hkv", Hkv, "D", D); };
  auto out = f32_array(info, 0, "out", qn, qshape);
  auto q = f32_array(info, 1, "q", qn, qshape);

  if (info.Length() <= 2 || !info[2].IsTypedArray()) throw_type(env, "k must be a Float32Array or a Uint16Array (f16)");
  const napi_typedarray_type kind = info[2].As<Napi::TypedArray>().TypedArrayType();
  if (kind != napi_float32_array && kind != napi_uint16_array)
    throw_type(env, std::string("k must be a Float32Array or a Uint16Array (f16), got ") + typed_array_kind_name(kind));
  if (info.Length() <= 3 || !info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != kind)
    throw_type(env, std::string("v must be a ") + typed_array_kind_name(kind) + " like k");
  const bool f16 = kind == napi_uint16_array;
  auto k = typed_array<uint8_t>(info, 2, "k", kind, kvn, kvshape);
  auto v = typed_array<uint8_t>(info, 3, "v", kind, kvn, kvshape);

  const size_t qbytes = (size_t)qn * 4, kvbytes = (size_t)kvn * (f16 ? 2 : 4);
  if (overlaps(out.data, qbytes, q.data, qbytes)) throw_range(env, "out must not overlap q");
  if (overlaps(out.data, qbytes, k.data, kvbytes)) throw_range(env, "out must not overlap k");
  if (overlaps(out.data, qbytes, v.data, kvbytes)) throw_range(env, "out must not overlap v");
  if (rope.enabled && (overlaps(k.data, kvbytes, v.data, kvbytes) || overlaps(k.data, kvbytes, q.data, qbytes)))
    throw_range(env, "k must not overlap q or v when RoPE rotates it in place");

  AttentionParams p;
  if (info.Length() > 15 && !info[15].IsUndefined() && !info[15].IsNull()) {
    auto b = typed_array<int32_t>(info, 15, "seqBounds", napi_int32_array);
    if (b.length < 2) throw_range(env, "seqBounds must hold at least 2 offsets [0, …, T]");
    if (S != T || pos != 0) throw_range(env, "a packed batch (seqBounds) needs S == T and posOffset 0");
    if (b.data[0] != 0 || b.data[b.length - 1] != T)
      throw_range(env, "seqBounds must start at 0 and end at T (" + std::to_string(T) + ")");
    for (size_t i = 1; i < b.length; i++)
      if (b.data[i] < b.data[i - 1]) throw_range(env, "seqBounds must be non-decreasing (index " + std::to_string(i) + ")");
    p.seq_bounds = b.data;
    p.n_seqs = (int64_t)b.length - 1;
  }
  if (info.Length() > 16 && !info[16].IsUndefined()) {
    const double cap = number(info, 16, "softcap");
    if (!(cap >= 0) || !std::isfinite(cap)) throw_range(env, "softcap must be a finite number >= 0, got " + std::to_string(cap));
    p.softcap = (float)cap;
  }
  if (info.Length() > 17 && !info[17].IsUndefined() && !info[17].IsNull()) {
    const int64_t bn = checked_mul(env, checked_mul(env, H, T, "H*T"), S, "H*T*S");
    const auto bshape = [&] { return shape3("H", H, "T", T, "S", S); };
    auto bias = typed_array<float>(info, 17, "positionBias", napi_float32_array, bn, bshape);
    if (overlaps(out.data, qbytes, bias.data, (size_t)bn * 4)) throw_range(env, "out must not overlap positionBias");
    if (rope.enabled && overlaps(k.data, kvbytes, bias.data, (size_t)bn * 4))
      throw_range(env, "k must not overlap positionBias when RoPE rotates it in place");
    p.position_bias = bias.data;
  }
  p.T = T; p.S = S; p.H = H; p.Hkv = Hkv; p.D = D;
  p.pos_offset = pos;
  p.causal = causal;
  p.scale = (float)scale;
  p.kv_f16 = f16;
  p.rope = rope;
  attention(reinterpret_cast<float*>(out.data), reinterpret_cast<const float*>(q.data), k.data, v.data, p);
  return env.Undefined();
}

Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = dim(info, 1, "T", 0, kMaxPositions);
  const int64_t nh = dim(info, 2, "nHeads", 1, 1 << 20);
  const int64_t D = dim(info, 3, "D", 2, kMaxHeadDim);
  const int64_t pos = dim(info, 4, "posOffset", 0, kMaxPositions);
  const RopeParams rope = rope_args(info, 5, D, true);
  const int64_t n = checked_mul(env, checked_mul(env, T, nh, "T*nHeads"), D, "T*nHeads*D");
  const auto shape = [&] { return shape3("T", T, "nHeads", nh, "D", D); };
  auto x = f32_array(info, 0, "x", n, shape);
  tl::rope(x.data, T, nh, D, pos, rope);
  return env.Undefined();
}

}  // namespace

void init_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("attention", Napi::Function::New(env, Attention, "attention"));
  exports.Set("rope", Napi::Function::New(env, Rope, "rope"));
}

}  // namespace tl::binding
