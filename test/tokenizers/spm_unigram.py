"""SentencePiece itself as the reference for the Unigram tokenizer tests.

usage: python3 spm_unigram.py < request.json > reply.json
request: {"corpus": path, "prefix": path, "vocab_size": n, "byte_fallback": bool,
          "remove_extra_whitespaces": bool, "add_dummy_prefix": bool, "texts": [str, ...]}
Trains a Unigram model (written to prefix + ".model") on the corpus, then prints
{"ids": [[id, ...], ...]}: SentencePiece's encoding of each text (no BOS/EOS).
"""
import json
import sys

import sentencepiece as spm

req = json.load(sys.stdin)
spm.SentencePieceTrainer.train(
    input=req["corpus"],
    model_prefix=req["prefix"],
    vocab_size=req["vocab_size"],
    model_type="unigram",
    byte_fallback=req["byte_fallback"],
    remove_extra_whitespaces=req.get("remove_extra_whitespaces", True),
    add_dummy_prefix=req.get("add_dummy_prefix", True),
    character_coverage=0.995,
    num_threads=1,
    hard_vocab_limit=False,
    minloglevel=2,
)
sp = spm.SentencePieceProcessor(model_file=req["prefix"] + ".model")
json.dump({"ids": sp.encode(req["texts"])}, sys.stdout)
