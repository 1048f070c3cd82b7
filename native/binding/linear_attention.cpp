// N-API glue for linear attention (kernels/linear_attention.h): argument checks → kernels.
//
//   linearAttention(out, q, k, v, state, T, H, Hkv, Dk, Dv, causal, featureMap, eps, chunk)
//     q: [T, H, Dk], k: [T, Hkv, Dk], v: [T, Hkv, Dv], out: [T, H, Dv],
//     state: [Hkv, Dk·Dv + Dk] (S then z per head, updated in place); featureMap 'elu1'|'relu'|'identity'.
//   gatedDeltaRule(out, q, k, v, g, beta, state, T, Hk, Hv, Dk, Dv, scale, chunk)
//     q, k: [T, Hk, Dk], v: [T, Hv, Dv], g: [T, Hv] or [T, Hv, Dk], beta: [T, Hv],
//     state: [Hv, Dv, Dk] (updated in place), out: [T, Hv, Dv].
//   conv1dCausal(out, x, state, weight, T, C, K, silu)   x, out: [T, C], weight: [C, K], state: [K-1, C]
//   l2norm(out, x, rows, dim, eps)
//   rmsnormGated(out, x, z, weight, rows, dim, eps)
//   deltaGates(g, beta, alpha, betaRaw, dtBias, a, T, H)
//   sigmoidMul(out, x, gate)
#include <cmath>
#include <string>

#include "binding/check.h"
#include "kernels/linear_attention.h"
#include "kernels/linear_attention_ops.h"

namespace tl::binding {

namespace {

constexpr int64_t kMaxDim = 4096;
constexpr int64_t kMaxTokens = ((int64_t)1 << 31) - 1;

std::string shape(std::initializer_list<std::pair<const char*, int64_t>> dims) {
  std::string s = "[";
  for (auto& d : dims) s += (s.size() > 1 ? ", " : "") + std::string(d.first) + "=" + std::to_string(d.second);
  return s + "]";
}

bool overlaps(const void* a, size_t abytes, const void* b, size_t bbytes) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  return pa < pb + bbytes && pb < pa + abytes;
}

void expect_no_overlap(Napi::Env env, const char* wname, const ArrayArg<float>& w,
                       std::initializer_list<std::pair<const char*, const ArrayArg<float>*>> others) {
  for (auto& o : others)
    if (overlaps(w.data, w.length * 4, o.second->data, o.second->length * 4))
      throw_range(env, std::string(wname) + " must not overlap " + o.first);
}

int64_t tokens(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (index < info.Length() && info[index].IsNumber() && info[index].As<Napi::Number>().DoubleValue() == 0)
    throw_range(env, "T must be at least 1: a zero-length sequence has nothing to attend to");
  return dim(info, index, "T", 1, kMaxTokens);
}

int64_t chunk_arg(const Napi::CallbackInfo& info, size_t index) { return dim(info, index, "chunk", 1, 4096); }

Napi::Value LinearAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = tokens(info, 5);
  const int64_t H = dim(info, 6, "H", 1, 1 << 20);
  const int64_t Hkv = dim(info, 7, "Hkv", 1, 1 << 20);
  const int64_t Dk = dim(info, 8, "Dk", 1, kMaxDim);
  const int64_t Dv = dim(info, 9, "Dv", 1, kMaxDim);
  if (H % Hkv != 0)
    throw_range(env, "H (" + std::to_string(H) + ") must be a multiple of Hkv (" + std::to_string(Hkv) + ")");
  if (info.Length() <= 10 || !info[10].IsBoolean()) throw_type(env, "causal must be a boolean");
  const bool causal = info[10].As<Napi::Boolean>();
  if (info.Length() <= 11 || !info[11].IsString()) throw_type(env, "featureMap must be 'elu1', 'relu' or 'identity'");
  const std::string fm = info[11].As<Napi::String>();
  FeatureMap phi;
  if (fm == "elu1")
    phi = FeatureMap::Elu1;
  else if (fm == "relu")
    phi = FeatureMap::Relu;
  else if (fm == "identity")
    phi = FeatureMap::Identity;
  else
    throw_range(env, "featureMap must be 'elu1', 'relu' or 'identity', got '" + fm + "'");
  const double eps = number(info, 12, "eps");
  if (!(eps >= 0) || !std::isfinite(eps)) throw_range(env, "eps must be a finite number >= 0");
  const int64_t chunk = chunk_arg(info, 13);

  const int64_t qn = checked_mul(env, checked_mul(env, T, H, "T*H"), Dk, "T*H*Dk");
  const int64_t on = checked_mul(env, checked_mul(env, T, H, "T*H"), Dv, "T*H*Dv");
  const int64_t kn = checked_mul(env, checked_mul(env, T, Hkv, "T*Hkv"), Dk, "T*Hkv*Dk");
  const int64_t vn = checked_mul(env, checked_mul(env, T, Hkv, "T*Hkv"), Dv, "T*Hkv*Dv");
  const int64_t sn = checked_mul(env, Hkv, checked_mul(env, Dk, Dv + 1, "Dk*(Dv+1)"), "state size");
  auto out = f32_array(info, 0, "out", on, shape({{"T", T}, {"H", H}, {"Dv", Dv}}).c_str());
  auto q = f32_array(info, 1, "q", qn, shape({{"T", T}, {"H", H}, {"Dk", Dk}}).c_str());
  auto k = f32_array(info, 2, "k", kn, shape({{"T", T}, {"Hkv", Hkv}, {"Dk", Dk}}).c_str());
  auto v = f32_array(info, 3, "v", vn, shape({{"T", T}, {"Hkv", Hkv}, {"Dv", Dv}}).c_str());
  auto state = f32_array(info, 4, "state", sn, "[Hkv, Dk*Dv + Dk]: S then z per KV head");
  expect_no_overlap(env, "out", out, {{"q", &q}, {"k", &k}, {"v", &v}, {"state", &state}});
  expect_no_overlap(env, "state", state, {{"q", &q}, {"k", &k}, {"v", &v}});

  LinearAttentionParams p;
  p.T = T; p.H = H; p.Hkv = Hkv; p.Dk = Dk; p.Dv = Dv;
  p.causal = causal;
  p.phi = phi;
  p.eps = (float)eps;
  p.chunk = chunk;
  linear_attention(out.data, q.data, k.data, v.data, state.data, p);
  return env.Undefined();
}

Napi::Value GatedDeltaRule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = tokens(info, 7);
  const int64_t Hk = dim(info, 8, "Hk", 1, 1 << 20);
  const int64_t Hv = dim(info, 9, "Hv", 1, 1 << 20);
  const int64_t Dk = dim(info, 10, "Dk", 1, kMaxDim);
  const int64_t Dv = dim(info, 11, "Dv", 1, kMaxDim);
  if (Hv % Hk != 0)
    throw_range(env, "Hv (" + std::to_string(Hv) + ") must be a multiple of Hk (" + std::to_string(Hk) +
                         "): value heads share key heads in groups");
  const double scale = number(info, 12, "scale");
  if (!std::isfinite(scale)) throw_range(env, "scale must be a finite number");
  const int64_t chunk = chunk_arg(info, 13);

  const int64_t qn = checked_mul(env, checked_mul(env, T, Hk, "T*Hk"), Dk, "T*Hk*Dk");
  const int64_t vn = checked_mul(env, checked_mul(env, T, Hv, "T*Hv"), Dv, "T*Hv*Dv");
  const int64_t sn = checked_mul(env, checked_mul(env, Hv, Dv, "Hv*Dv"), Dk, "Hv*Dv*Dk");
  auto out = f32_array(info, 0, "out", vn, shape({{"T", T}, {"Hv", Hv}, {"Dv", Dv}}).c_str());
  auto q = f32_array(info, 1, "q", qn, shape({{"T", T}, {"Hk", Hk}, {"Dk", Dk}}).c_str());
  auto k = f32_array(info, 2, "k", qn, shape({{"T", T}, {"Hk", Hk}, {"Dk", Dk}}).c_str());
  auto v = f32_array(info, 3, "v", vn, shape({{"T", T}, {"Hv", Hv}, {"Dv", Dv}}).c_str());
  auto g = f32_array(info, 4, "g");
  const bool channel = (int64_t)g.length == T * Hv * Dk && Dk != 1;
  if ((int64_t)g.length != T * Hv && !channel)
    throw_range(env, "g has " + std::to_string(g.length) + " elements, expected " + std::to_string(T * Hv) +
                         " (one decay per token and value head, [T, Hv]) or " + std::to_string(T * Hv * Dk) +
                         " (one per key channel, [T, Hv, Dk])");
  auto beta = f32_array(info, 5, "beta", T * Hv, shape({{"T", T}, {"Hv", Hv}}).c_str());
  auto state = f32_array(info, 6, "state", sn, shape({{"Hv", Hv}, {"Dv", Dv}, {"Dk", Dk}}).c_str());
  expect_no_overlap(env, "out", out, {{"q", &q}, {"k", &k}, {"v", &v}, {"g", &g}, {"beta", &beta}, {"state", &state}});
  expect_no_overlap(env, "state", state, {{"q", &q}, {"k", &k}, {"v", &v}, {"g", &g}, {"beta", &beta}});

  GatedDeltaParams p;
  p.T = T; p.Hk = Hk; p.Hv = Hv; p.Dk = Dk; p.Dv = Dv;
  p.channel_gate = channel;
  p.scale = (float)scale;
  p.chunk = chunk;
  gated_delta_rule(out.data, q.data, k.data, v.data, g.data, beta.data, state.data, p);
  return env.Undefined();
}

Napi::Value Conv1dCausal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t T = tokens(info, 4);
  const int64_t C = dim(info, 5, "C", 1, 1 << 24);
  const int64_t K = dim(info, 6, "K", 1, 64);
  if (info.Length() <= 7 || !info[7].IsBoolean()) throw_type(env, "silu must be a boolean");
  const bool silu = info[7].As<Napi::Boolean>();
  const int64_t n = checked_mul(env, T, C, "T*C");
  auto out = f32_array(info, 0, "out", n, shape({{"T", T}, {"C", C}}).c_str());
  auto x = f32_array(info, 1, "x", n, shape({{"T", T}, {"C", C}}).c_str());
  auto state = f32_array(info, 2, "convState", (K - 1) * C, shape({{"K-1", K - 1}, {"C", C}}).c_str());
  auto w = f32_array(info, 3, "weight", C * K, shape({{"C", C}, {"K", K}}).c_str());
  expect_no_overlap(env, "out", out, {{"x", &x}, {"convState", &state}, {"weight", &w}});
  expect_no_overlap(env, "convState", state, {{"x", &x}, {"weight", &w}});
  conv1d_causal(out.data, x.data, state.data, w.data, T, C, K, silu);
  return env.Undefined();
}

double eps_arg(const Napi::CallbackInfo& info, size_t index) {
  const double eps = number(info, index, "eps");
  if (!(eps >= 0) || !std::isfinite(eps)) throw_range(info.Env(), "eps must be a finite number >= 0");
  return eps;
}

Napi::Value L2norm(const Napi::CallbackInfo& info) {
  const int64_t rows = dim(info, 2, "rows", 0);
  const int64_t d = dim(info, 3, "dim", 1);
  const double eps = eps_arg(info, 4);
  const std::string sh = shape({{"rows", rows}, {"dim", d}});
  auto out = f32_array(info, 0, "out", rows * d, sh.c_str());
  auto x = f32_array(info, 1, "x", rows * d, sh.c_str());
  l2norm_rows(out.data, x.data, rows, d, (float)eps);
  return info.Env().Undefined();
}

Napi::Value RmsnormGated(const Napi::CallbackInfo& info) {
  const int64_t rows = dim(info, 4, "rows", 0);
  const int64_t d = dim(info, 5, "dim", 1);
  const double eps = eps_arg(info, 6);
  const std::string sh = shape({{"rows", rows}, {"dim", d}});
  auto out = f32_array(info, 0, "out", rows * d, sh.c_str());
  auto x = f32_array(info, 1, "x", rows * d, sh.c_str());
  auto z = f32_array(info, 2, "z", rows * d, sh.c_str());
  auto w = f32_array(info, 3, "weight", d, "[dim]");
  rmsnorm_gated(out.data, x.data, z.data, w.data, rows, d, (float)eps);
  return info.Env().Undefined();
}

Napi::Value DeltaGates(const Napi::CallbackInfo& info) {
  const int64_t T = tokens(info, 6);
  const int64_t H = dim(info, 7, "H", 1, 1 << 20);
  const std::string sh = shape({{"T", T}, {"H", H}});
  auto g = f32_array(info, 0, "g", T * H, sh.c_str());
  auto beta = f32_array(info, 1, "beta", T * H, sh.c_str());
  auto alpha = f32_array(info, 2, "alpha", T * H, sh.c_str());
  auto braw = f32_array(info, 3, "betaRaw", T * H, sh.c_str());
  auto dt = f32_array(info, 4, "dtBias", H, "[H]");
  auto a = f32_array(info, 5, "a", H, "[H]");
  delta_gates(g.data, beta.data, alpha.data, braw.data, dt.data, a.data, T, H);
  return info.Env().Undefined();
}

Napi::Value SigmoidMul(const Napi::CallbackInfo& info) {
  auto x = f32_array(info, 1, "x");
  auto out = f32_array(info, 0, "out", (int64_t)x.length);
  auto gate = f32_array(info, 2, "gate", (int64_t)x.length);
  sigmoid_mul(out.data, x.data, gate.data, (int64_t)x.length);
  return info.Env().Undefined();
}

}  // namespace

void init_linear_attention(Napi::Env env, Napi::Object exports) {
  exports.Set("linearAttention", Napi::Function::New(env, LinearAttention, "linearAttention"));
  exports.Set("gatedDeltaRule", Napi::Function::New(env, GatedDeltaRule, "gatedDeltaRule"));
  exports.Set("conv1dCausal", Napi::Function::New(env, Conv1dCausal, "conv1dCausal"));
  exports.Set("l2norm", Napi::Function::New(env, L2norm, "l2norm"));
  exports.Set("rmsnormGated", Napi::Function::New(env, RmsnormGated, "rmsnormGated"));
  exports.Set("deltaGates", Napi::Function::New(env, DeltaGates, "deltaGates"));
  exports.Set("sigmoidMul", Napi::Function::New(env, SigmoidMul, "sigmoidMul"));
}

}  // namespace tl::binding
