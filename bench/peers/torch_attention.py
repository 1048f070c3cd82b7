#!/usr/bin/env python3
"""PyTorch on the CPU, the peer of bench/attention.bench.ts: causal attention written the way
PyTorch 1.13 runs it (no scaled_dot_product_attention yet): softmax(Q·Kᵀ·scale + mask)·V with
materialized scores, f32, Q [H, T, D] and K/V [H, S, D].

Usage: python3 bench/peers/torch_attention.py '<json spec>'  → prints one JSON object.
spec = {"threads": n, "cases": [{"H":..,"D":..,"T":..,"S":.., "copies": n}, ...], "samples": 7}
Each call uses the next of `copies` K/V pairs (decode: enough to exceed the CPU caches).
Result: {"torch": version, "threads": n, "ms": [median ms per call, ...], "cpu_ms": [median CPU ms
per call (all threads of the process), ...]}
or {"skipped": reason} when torch cannot be imported.
"""
import json
import sys
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
        print(json.dumps({"skipped": f"torch not importable: {e}"}))
        return
    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(0)
    samples = int(spec.get("samples", 7))
    results, cpu_results = [], []
    with torch.no_grad():
        for c in spec["cases"]:
            H, D, T, S = c["H"], c["D"], c["T"], c["S"]
            copies = int(c.get("copies", 1))
            q = torch.randn(H, T, D)
            ks = [torch.randn(H, S, D) for _ in range(copies)]
            vs = [torch.randn(H, S, D) for _ in range(copies)]
            nxt = [0]
            scale = 1.0 / D**0.5
            pos = S - T
            # Query t sees keys s <= pos + t: the additive mask SDPA would build from is_causal.
            mask = None
            if T > 1:
                mask = torch.full((T, S), float("-inf")).triu(pos + 1)

            def run():
                k, v = ks[nxt[0]], vs[nxt[0]]
                nxt[0] = (nxt[0] + 1) % copies
                scores = torch.matmul(q, k.transpose(-1, -2)) * scale
                if mask is not None:
                    scores = scores + mask
                return torch.matmul(torch.softmax(scores, dim=-1), v)

            run()
            reps = 1
            while True:  # each sample lasts >= 20 ms
                t0 = time.perf_counter()
                for _ in range(reps):
                    run()
                if time.perf_counter() - t0 >= 0.02 or reps >= 1 << 16:
                    break
                reps *= 2
            times, cpu = [], []
            for _ in range(samples):
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(reps):
                    run()
                times.append((time.perf_counter() - t0) / reps * 1000)
                cpu.append((time.process_time() - c0) / reps * 1000)
            times.sort()
            cpu.sort()
            results.append(times[len(times) // 2])
            cpu_results.append(cpu[len(cpu) // 2])
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "ms": results, "cpu_ms": cpu_results}))


if __name__ == "__main__":
    main()
