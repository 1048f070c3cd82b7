"""Dequantizes every tensor of a GGUF file with gguf-py's numpy reference (gguf/quants.py).

usage: python3 gguf_py_dequantize.py GGUF_PY_DIR OUT_DIR FILE.gguf...
Writes OUT_DIR/<f>-<i>.f32 (raw little-endian float32) per tensor i of file f and prints, per
input file, a JSON list of {name, type, file} on stdout (one process: numpy's import is slow). The independent reference for tensorloom's dequantize-row.
"""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
from gguf import GGUFReader  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

out_dir = sys.argv[2]
result = {}
for f, path in enumerate(sys.argv[3:]):
    listing = []
    for i, t in enumerate(GGUFReader(path).tensors):
        values = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1)
        out = os.path.join(out_dir, f"{f}-{i}.f32")
        values.astype("<f4").tofile(out)
        listing.append({"name": t.name, "type": t.tensor_type.name, "file": out})
    result[path] = listing
print(json.dumps(result))
