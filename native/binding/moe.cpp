// N-API glue of the MoE feed-forward (kernels/moe.h): argument checks → raw pointers → kernel.
//   moeFfn(out: Float32Array [T, dim], x: Float32Array [T, dim], logits: Float32Array [T, E] (replaced
//          by the router probabilities), T, dim, E, used, hidden,
//          gate: wData, gateType, up: wData, upType, down: wData, downType)
//   gate and up: [E·hidden, dim], down: [E·dim, hidden], each in one weight type (GGML type id).
#include <string>

#include "binding/check.h"
#include "binding/weight_arg.h"
#include "kernels/moe.h"

namespace tl::binding {

namespace {

bool overlap(const void* a, size_t an, const void* b, size_t bn) {
  const uint8_t* x = static_cast<const uint8_t*>(a);
  const uint8_t* y = static_cast<const uint8_t*>(b);
  return an && bn && x < y + bn && y < x + an;
}

Napi::Value MoeFfn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = dim(info, 3, "T", 0);
  const int64_t D = dim(info, 4, "dim");
  const int64_t E = dim(info, 5, "experts");
  const int64_t used = dim(info, 6, "used");
  const int64_t H = dim(info, 7, "hidden");
  if (used > E) throw_range(env, "used (" + std::to_string(used) + ") must be at most the " + std::to_string(E) + " experts");
  const std::string td = "[T=" + std::to_string(T) + ", dim=" + std::to_string(D) + "]";
  auto out = f32_array(info, 0, "out", checked_mul(env, T, D, "out (T * dim)"), td.c_str());
  auto x = f32_array(info, 1, "x", checked_mul(env, T, D, "x (T * dim)"), td.c_str());
  const std::string te = "[T=" + std::to_string(T) + ", experts=" + std::to_string(E) + "]";
  auto logits = f32_array(info, 2, "logits", checked_mul(env, T, E, "logits (T * experts)"), te.c_str());
  const WeightTypeInfo& gt = weight_type_arg(info, 9, "gate type");
  const WeightTypeInfo& ut = weight_type_arg(info, 11, "up type");
  const WeightTypeInfo& dt = weight_type_arg(info, 13, "down type");
  const int64_t EH = checked_mul(env, E, H, "experts * hidden"), ED = checked_mul(env, E, D, "experts * dim");
  const WeightData g = weight_data_arg(info, 8, "gate", gt, EH, D, "dim");
  const WeightData u = weight_data_arg(info, 10, "up", ut, EH, D, "dim");
  const WeightData d = weight_data_arg(info, 12, "down", dt, ED, H, "hidden");
  const size_t ob = out.length * 4;
  const std::pair<const void*, size_t> inputs[] = {{x.data, x.length * 4}, {logits.data, logits.length * 4}, {g.data, g.bytes}, {u.data, u.bytes}, {d.data, d.bytes}};
  const char* names[] = {"x", "logits", "gate", "up", "down"};
  for (int i = 0; i < 5; i++)
    if (overlap(out.data, ob, inputs[i].first, inputs[i].second)) throw_range(env, std::string("out must not overlap ") + names[i]);
  if (overlap(logits.data, logits.length * 4, x.data, x.length * 4)) throw_range(env, "logits must not overlap x");
  const StackedExperts w{g.data, gt.id, u.data, ut.id, d.data, dt.id, E, H};
  moe_ffn(out.data, x.data, logits.data, T, D, w, (int)used);
  return env.Undefined();
}

}  // namespace

void init_moe(Napi::Env env, Napi::Object exports) { exports.Set("moeFfn", Napi::Function::New(env, MoeFfn, "moeFfn")); }

}  // namespace tl::binding
