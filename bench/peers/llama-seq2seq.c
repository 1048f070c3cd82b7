// llama.cpp's own encoder-decoder path, timed, at a chosen thread count (tensorloom's bench peer).
// Written against the public llama.h API only. Built and run by llama-seq2seq.sh.
//
//   llama-seq2seq MODEL N id,id,... THREADS [embed]
//
// Default mode: llama_encode the source ids (once untimed, then ENCODES timed: encodeMs is their median), then greedy decoding from llama_model_decoder_start_token
// for N steps (EOS is not a stop). Prints one JSON line:
//   {"threads":T,"encodeMs":..,"encodeTokens":..,"firstStepMs":..,"decodeMs":..,"decodeTokens":..,"ids":[..]}
// With LOGITS=1 in the environment the line also has "logits": the first decoder step's logits.
// "embed" mode (N is ignored): the same two encodes with embeddings on and no pooling, then prints
//   {"threads":T,"encodeMs":..,"encodeTokens":..,"nEmbd":..,"embeddings":[[..],..]}   (one row per token).
#include "ggml-backend.h"
#include "llama.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_TOKENS = 8192, ENCODES = 5 };

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void quiet_log(enum ggml_log_level level, const char* text, void* user) {
  (void)user;
  if (level >= GGML_LOG_LEVEL_ERROR || getenv("LLAMA_LOG")) fputs(text, stderr);
}

static bool no_progress(float progress, void* user) {
  (void)progress; (void)user;
  return true;
}

static void print_floats(const float* v, int n) {
  putchar('[');
  for (int i = 0; i < n; i++) printf(i ? ",%.7g" : "%.7g", v[i]);
  putchar(']');
}

static int fail(const char* what) {
  fprintf(stderr, "llama-seq2seq: %s\n", what);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: llama-seq2seq MODEL N id,id,... THREADS [embed]\n");
    return 2;
  }
  const char* path = argv[1];
  const int n_predict = atoi(argv[2]);
  const int threads = atoi(argv[4]);
  const int embed = argc > 5 && strcmp(argv[5], "embed") == 0;
  if (threads < 1) return fail("THREADS must be >= 1");

  static llama_token source[MAX_TOKENS];
  int n_source = 0;
  for (char* s = strtok(argv[3], ","); s; s = strtok(NULL, ",")) {
    if (n_source == MAX_TOKENS) return fail("too many source ids");
    source[n_source++] = atoi(s);
  }
  if (n_source == 0) return fail("no source ids");

  llama_log_set(quiet_log, NULL);
  // node-llama-cpp ships one loadable CPU backend per ISA; a native build links its CPU backend in.
  if (getenv("GGML_BACKEND_DIR")) ggml_backend_load_all_from_path(getenv("GGML_BACKEND_DIR"));
  else ggml_backend_load_all();
  llama_backend_init();

  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  mp.progress_callback = no_progress;
  struct llama_model* model = llama_model_load_from_file(path, mp);
  if (!model) return fail("cannot load the model");
  if (!llama_model_has_encoder(model)) return fail("the model has no encoder");
  if (!embed && !llama_model_has_decoder(model)) return fail("the model has no decoder (use embed mode)");

  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = n_source + n_predict + 16 > 512 ? n_source + n_predict + 16 : 512;
  cp.n_batch = cp.n_ctx;
  cp.n_ubatch = cp.n_ctx;
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  if (embed) {
    cp.embeddings = true;
    cp.pooling_type = LLAMA_POOLING_TYPE_NONE;
  }
  struct llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) return fail("cannot create a context");

  // One untimed encode first, then ENCODES timed ones, their median reported: warm (weights paged
  // in, graph and buffers allocated) and steady, as tensorloom's side of the bench is timed.
  if (llama_encode(ctx, llama_batch_get_one(source, n_source))) return fail("llama_encode failed");
  double times[ENCODES];
  double t = 0;
  for (int e = 0; e < ENCODES; e++) {
    t = now_ms();
    if (llama_encode(ctx, llama_batch_get_one(source, n_source))) return fail("llama_encode failed");
    times[e] = now_ms() - t;
  }
  for (int i = 1; i < ENCODES; i++)  // insertion sort: ENCODES is tiny
    for (int j = i; j > 0 && times[j] < times[j - 1]; j--) { const double x = times[j]; times[j] = times[j - 1]; times[j - 1] = x; }
  const double encode_ms = times[ENCODES / 2];
  printf("{\"threads\":%d,\"encodeMs\":%.4f,\"encodeTokens\":%d", threads, encode_ms, n_source);

  if (embed) {
    const int n_embd = llama_model_n_embd(model);
    printf(",\"nEmbd\":%d,\"embeddings\":[", n_embd);
    for (int i = 0; i < n_source; i++) {
      const float* row = llama_get_embeddings_ith(ctx, i);
      if (!row) return fail("no embeddings after llama_encode");
      if (i) putchar(',');
      print_floats(row, n_embd);
    }
    printf("]}\n");
  } else {
    const struct llama_vocab* vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    llama_token token = llama_model_decoder_start_token(model);
    if (token == LLAMA_TOKEN_NULL) token = llama_vocab_bos(vocab);
    static llama_token out[MAX_TOKENS];
    double first_ms = 0, decode_ms = 0;
    const int want_logits = getenv("LOGITS") != NULL;
    for (int i = 0; i < n_predict && i < MAX_TOKENS; i++) {
      t = now_ms();
      if (llama_decode(ctx, llama_batch_get_one(&token, 1))) return fail("llama_decode failed");
      const double ms = now_ms() - t;
      if (i == 0) first_ms = ms; else decode_ms += ms;
      const float* logits = llama_get_logits_ith(ctx, -1);
      if (want_logits && i == 0) {
        printf(",\"logits\":");
        print_floats(logits, n_vocab);
      }
      int best = 0;
      for (int v = 1; v < n_vocab; v++) if (logits[v] > logits[best]) best = v;
      out[i] = token = best;
    }
    printf(",\"firstStepMs\":%.4f,\"decodeMs\":%.4f,\"decodeTokens\":%d,\"ids\":[", first_ms, decode_ms, n_predict > 1 ? n_predict - 1 : 0);
    for (int i = 0; i < n_predict; i++) printf(i ? ",%d" : "%d", out[i]);
    printf("]}\n");
  }
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
