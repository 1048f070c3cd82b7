// Linear attention driver (linear_attention.h): the two update rules in chunked form, written on
// the per-ISA primitives of linear_attention_kernels.h, threaded over heads on the shared pool.
// A chunk of one token is exactly the recurrent step; decode (T = 1) takes the fused row kernel.
#include "kernels/linear_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/linear_attention_kernels.h"
#include "kernels/threadpool.h"

namespace tl {

namespace {

struct Prims {
  float (*dot)(const float*, const float*, int64_t);
  void (*axpy)(float*, float, const float*, int64_t);
  void (*scale)(float*, float, int64_t);
  void (*dot_rows)(float*, const float*, int64_t, int64_t, const float*, int64_t, float);
  void (*delta_rows)(float*, int64_t, int64_t, const float*, const float*, float, const float*, const float*, float,
                     float, float*);
};

Prims pick() {
  switch (active_isa()) {
#if defined(TL_HAVE_X86_VARIANTS)
    case Isa::Avx512:
      return {avx512::la_dot, avx512::la_axpy, avx512::la_scale, avx512::la_dot_rows, avx512::la_delta_rows};
    case Isa::Avx2: return {avx2::la_dot, avx2::la_axpy, avx2::la_scale, avx2::la_dot_rows, avx2::la_delta_rows};
#endif
    default: return {scalar::la_dot, scalar::la_axpy, scalar::la_scale, scalar::la_dot_rows, scalar::la_delta_rows};
  }
}

// Per-thread scratch kept between calls (decode calls once per layer per token).
float* scratch(size_t floats) {
  static thread_local std::vector<float> mem;
  if (mem.size() < floats) mem.resize(floats);
  return mem.data();
}

inline float feature(float x, FeatureMap phi) {
  switch (phi) {
    case FeatureMap::Elu1: return x > 0.f ? x + 1.f : std::exp(x);
    case FeatureMap::Relu: return x > 0.f ? x : 0.f;
    default: return x;
  }
}

void apply_feature(float* dst, const float* src, int64_t n, FeatureMap phi) {
  for (int64_t i = 0; i < n; i++) dst[i] = feature(src[i], phi);
}

// ── the paper's rule ──────────────────────────────────────────────────────────────────────────

// One KV head: S [Dk, Dv] and z [Dk] at `st`, its G query heads.
void linear_head(const Prims& P, float* out, const float* q, const float* k, const float* v, float* st, int64_t hk,
                 const LinearAttentionParams& p) {
  const int64_t T = p.T, H = p.H, Hkv = p.Hkv, Dk = p.Dk, Dv = p.Dv, G = H / Hkv;
  const int64_t C = p.causal ? std::max<int64_t>(1, std::min(p.chunk, T)) : T;
  float* S = st;
  float* z = st + Dk * Dv;
  float* fk = scratch((size_t)C * Dk + Dk + Dv + C);  // φ(k) of the chunk, φ(q) of one row, num, scores
  float* fq = fk + C * Dk;
  float* num = fq + Dk;
  float* a = num + Dv;

  // Adds the chunk's tokens [t0, t1) to the state.
  auto absorb = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const float* fkt = fk + (t - t0) * Dk;
      const float* vt = v + (t * Hkv + hk) * Dv;
      for (int64_t i = 0; i < Dk; i++) P.axpy(S + i * Dv, fkt[i], vt, Dv);
      for (int64_t i = 0; i < Dk; i++) z[i] += fkt[i];
    }
  };
  // out row of query (t, h) = (φ(q)ᵀS + Σ_{s in [t0, last]} (φ(q)·φ(k_s)) v_s) / (φ(q)·z + Σ … + eps).
  auto read_out = [&](int64_t t, int64_t h, int64_t t0, int64_t last) {
    apply_feature(fq, q + (t * H + h) * Dk, Dk, p.phi);
    std::memset(num, 0, Dv * sizeof(float));
    for (int64_t i = 0; i < Dk; i++) P.axpy(num, fq[i], S + i * Dv, Dv);
    float den = P.dot(fq, z, Dk);
    for (int64_t s = t0; s <= last; s++) {
      a[s - t0] = P.dot(fq, fk + (s - t0) * Dk, Dk);
      den += a[s - t0];
    }
    for (int64_t s = t0; s <= last; s++) P.axpy(num, a[s - t0], v + (s * Hkv + hk) * Dv, Dv);
    float* o = out + (t * H + h) * Dv;
    const float inv = 1.f / (den + p.eps);
    for (int64_t j = 0; j < Dv; j++) o[j] = num[j] * inv;
  };

  if (!p.causal) {
    // Every query sees the state after all T tokens: absorb them (in chunks of the φ(k) buffer), then read.
    for (int64_t t0 = 0; t0 < T; t0 += C) {
      const int64_t t1 = std::min(T, t0 + C);
      for (int64_t t = t0; t < t1; t++) apply_feature(fk + (t - t0) * Dk, k + (t * Hkv + hk) * Dk, Dk, p.phi);
      absorb(t0, t1);
    }
    for (int64_t t = 0; t < T; t++)
      for (int64_t g = 0; g < G; g++) read_out(t, hk * G + g, 0, -1);
    return;
  }
  for (int64_t t0 = 0; t0 < T; t0 += C) {
    const int64_t t1 = std::min(T, t0 + C);
    for (int64_t t = t0; t < t1; t++) apply_feature(fk + (t - t0) * Dk, k + (t * Hkv + hk) * Dk, Dk, p.phi);
    // Inside the chunk: the carried state plus the masked quadratic form over the chunk's keys.
    for (int64_t t = t0; t < t1; t++)
      for (int64_t g = 0; g < G; g++) read_out(t, hk * G + g, t0, t);
    absorb(t0, t1);
  }
}

// ── the gated delta rule ─────────────────────────────────────────────────────────────────────

// One value head h: state rows M [Dv, Dk], key head h % Hk.
void delta_head(const Prims& P, float* out, const float* q, const float* k, const float* v, const float* g,
                const float* beta, float* M, int64_t h, const GatedDeltaParams& p) {
  const int64_t T = p.T, Hk = p.Hk, Hv = p.Hv, Dk = p.Dk, Dv = p.Dv, hk = h % Hk;
  const int64_t Gd = p.channel_gate ? Dk : 1;  // decays per token
  const int64_t C = std::max<int64_t>(1, std::min(p.chunk, T));
  auto kt = [&](int64_t t) { return k + (t * Hk + hk) * Dk; };
  auto qt = [&](int64_t t) { return q + (t * Hk + hk) * Dk; };
  auto vt = [&](int64_t t) { return v + (t * Hv + h) * Dv; };
  auto gt = [&](int64_t t) { return g + (t * Hv + h) * Gd; };
  auto bt = [&](int64_t t) { return beta[t * Hv + h]; };

  if (C == 1) {  // the recurrence, one fused pass over the state rows per token
    float* dec = scratch(Dk);
    for (int64_t t = 0; t < T; t++) {
      const float* gv = gt(t);
      if (p.channel_gate)
        for (int64_t i = 0; i < Dk; i++) dec[i] = std::exp(gv[i]);
      P.delta_rows(M, Dv, Dk, kt(t), qt(t), std::exp(gv[0]), p.channel_gate ? dec : nullptr, vt(t), bt(t), p.scale,
                   out + (t * Hv + h) * Dv);
    }
    return;
  }

  // Scratch: cumulative log-decays Gc [C, Gd], decayed keys/queries kd, qd [C, Dk], the chunk's
  // u = (Γ_t S₀)ᵀk_t and then d_t [C, Dv], outputs o [C, Dv], pair weights A, B [C, C], one
  // weighted row w [Dk].
  float* Gc = scratch((size_t)C * Gd + 2 * C * Dk + 2 * C * Dv + 2 * C * C + Dk);
  float* kd = Gc + C * Gd;
  float* qd = kd + C * Dk;
  float* dm = qd + C * Dk;
  float* om = dm + C * Dv;
  float* A = om + C * Dv;
  float* B = A + C * C;
  float* w = B + C * C;

  // Σ_i x[i]·y[i]·exp(Gc[t][i] − Gc[s][i]) : the pair weight of tokens s ≤ t inside the chunk.
  auto decayed_dot = [&](const float* x, const float* y, int64_t t, int64_t s) {
    if (!p.channel_gate) return std::exp(Gc[t] - Gc[s]) * P.dot(x, y, Dk);
    for (int64_t i = 0; i < Dk; i++) w[i] = x[i] * std::exp(Gc[t * Dk + i] - Gc[s * Dk + i]);
    return P.dot(w, y, Dk);
  };

  for (int64_t t0 = 0; t0 < T; t0 += C) {
    const int64_t n = std::min(T, t0 + C) - t0;
    // Γ_t = exp(Σ_{r ≤ t} g_r) from the chunk start, applied to k_t and q_t for the carried-state terms.
    for (int64_t r = 0; r < n; r++) {
      const float* gv = gt(t0 + r);
      for (int64_t i = 0; i < Gd; i++) Gc[r * Gd + i] = gv[i] + (r ? Gc[(r - 1) * Gd + i] : 0.f);
      for (int64_t i = 0; i < Dk; i++) {
        const float gamma = std::exp(Gc[r * Gd + (p.channel_gate ? i : 0)]);
        kd[r * Dk + i] = gamma * kt(t0 + r)[i];
        qd[r * Dk + i] = gamma * qt(t0 + r)[i];
      }
    }
    // Carried state: dm[r] = S₀ᵀ(Γ_r k_r), om[r] = S₀ᵀ(Γ_r q_r).
    for (int64_t r = 0; r < n; r++) {
      P.dot_rows(dm + r * Dv, M, Dv, Dk, kd + r * Dk, Dk, 1.f);
      P.dot_rows(om + r * Dv, M, Dv, Dk, qd + r * Dk, Dk, 1.f);
    }
    // Pair weights: A[r][s] = β_r (Γ_r/Γ_s ⊙ k_r)·k_s for s < r; B[r][s] = (Γ_r/Γ_s ⊙ q_r)·k_s for s ≤ r.
    for (int64_t r = 0; r < n; r++) {
      for (int64_t s = 0; s < r; s++) A[r * C + s] = bt(t0 + r) * decayed_dot(kt(t0 + r), kt(t0 + s), r, s);
      for (int64_t s = 0; s <= r; s++) B[r * C + s] = decayed_dot(qt(t0 + r), kt(t0 + s), r, s);
    }
    // WY / forward substitution: d_r = β_r (v_r − u_r) − Σ_{s<r} A[r][s] d_s.
    for (int64_t r = 0; r < n; r++) {
      float* d = dm + r * Dv;
      const float* vr = vt(t0 + r);
      const float b = bt(t0 + r);
      for (int64_t j = 0; j < Dv; j++) d[j] = b * (vr[j] - d[j]);
      for (int64_t s = 0; s < r; s++) P.axpy(d, -A[r * C + s], dm + s * Dv, Dv);
    }
    // Outputs: o_r = scale (S₀ᵀ(Γ_r q_r) + Σ_{s≤r} B[r][s] d_s).
    for (int64_t r = 0; r < n; r++) {
      float* o = om + r * Dv;
      for (int64_t s = 0; s <= r; s++) P.axpy(o, B[r * C + s], dm + s * Dv, Dv);
      float* dst = out + ((t0 + r) * Hv + h) * Dv;
      for (int64_t j = 0; j < Dv; j++) dst[j] = p.scale * o[j];
    }
    // Carry: S ← Γ_n S₀ + Σ_s (Γ_n/Γ_s ⊙ k_s) d_sᵀ, row by row of M (row j = column j of S).
    const float* Gn = Gc + (n - 1) * Gd;
    for (int64_t s = 0; s < n; s++)
      for (int64_t i = 0; i < Dk; i++) {
        const int64_t gi = p.channel_gate ? i : 0;
        kd[s * Dk + i] = kt(t0 + s)[i] * std::exp(Gn[gi] - Gc[s * Gd + gi]);
      }
    for (int64_t i = 0; i < Gd; i++) w[i] = std::exp(Gn[i]);
    for (int64_t j = 0; j < Dv; j++) {
      float* m = M + j * Dk;
      if (p.channel_gate)
        for (int64_t i = 0; i < Dk; i++) m[i] *= w[i];
      else
        P.scale(m, w[0], Dk);
      for (int64_t s = 0; s < n; s++) P.axpy(m, dm[s * Dv + j], kd + s * Dk, Dk);
    }
  }
}

}  // namespace

void linear_attention(float* out, const float* q, const float* k, const float* v, float* state,
                      const LinearAttentionParams& p) {
  if (p.T <= 0 || p.Hkv <= 0) return;
  const Prims P = pick();
  const int64_t per_head = p.Dk * p.Dv + p.Dk;
  parallel_for(p.Hkv, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t hk = b; hk < e; hk++) linear_head(P, out, q, k, v, state + hk * per_head, hk, p);
  });
}

void gated_delta_rule(float* out, const float* q, const float* k, const float* v, const float* g,
                      const float* beta, float* state, const GatedDeltaParams& p) {
  if (p.T <= 0 || p.Hv <= 0) return;
  const Prims P = pick();
  parallel_for(p.Hv, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t h = b; h < e; h++) delta_head(P, out, q, k, v, g, beta, state + h * p.Dv * p.Dk, h, p);
  });
}

}  // namespace tl
