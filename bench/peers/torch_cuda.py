#!/usr/bin/env python3
"""PyTorch on the GPU, the peer of bench/cuda.bench.ts: cuBLAS matmul and SDPA (flash) on the
same shapes. Usage: python3 bench/peers/torch_cuda.py '<json spec>'  → prints one JSON object.

spec = {"gemm": [{"M":..,"N":..,"K":..,"dtype":"f16"|"bf16"|"f32"}, ...],
        "attention": [{"B":..,"H":..,"Hkv":..,"D":..,"T":..,"S":..}, ...]}
Result: {"device": name, "torch": version, "gemm": [ms | null, ...], "attention": [ms | null, ...]}
or {"skipped": reason} when torch or a CUDA device is missing. Times are medians of CUDA-event
timed batches, in milliseconds per call.
"""
import json
import sys


def main() -> None:
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {"gemm": [], "attention": []}
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
        print(json.dumps({"skipped": f"torch not importable: {e}"}))
        return
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": f"torch {torch.__version__} sees no CUDA device"}))
        return
    torch.backends.cuda.matmul.allow_tf32 = False  # f32 GEMM compared as true f32
    dev = torch.device("cuda")
    dtypes = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}

    def time_ms(fn, inner=10, samples=7):
        fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(samples):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / inner)
        times.sort()
        return times[len(times) // 2]

    gemm = []
    for g in spec.get("gemm", []):
        dt = dtypes.get(g["dtype"])
        if dt is None:  # q8_0 has no cuBLAS counterpart
            gemm.append(None)
            continue
        a = torch.randn(g["M"], g["K"], device=dev, dtype=dt)
        w = torch.randn(g["N"], g["K"], device=dev, dtype=dt)
        gemm.append(time_ms(lambda: torch.matmul(a, w.t())))
        del a, w

    sdpa = getattr(F, "scaled_dot_product_attention", None)
    flash_ctx = None
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3

        flash_ctx = lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)  # noqa: E731
    except Exception:  # noqa: BLE001
        if hasattr(torch.backends.cuda, "sdp_kernel"):
            flash_ctx = lambda: torch.backends.cuda.sdp_kernel(  # noqa: E731
                enable_flash=True, enable_math=False, enable_mem_efficient=False
            )
    attention = []
    for c in spec.get("attention", []):
        if sdpa is None or flash_ctx is None:
            attention.append(None)
            continue
        B, H, Hkv, D, T, S = c["B"], c["H"], c["Hkv"], c["D"], c["T"], c["S"]
        q = torch.randn(B, H, T, D, device=dev, dtype=torch.float16)
        # GQA: expand the KV heads (torch < 2.5 has no enable_gqa); the kernel reads them as MHA
        k = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.float16).repeat_interleave(H // Hkv, dim=1)
        v = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.float16).repeat_interleave(H // Hkv, dim=1)
        causal = T > 1  # decode: one query sees the whole cache
        try:
            with flash_ctx():
                attention.append(time_ms(lambda: sdpa(q, k, v, is_causal=causal), inner=3 if T >= 4096 else 10))
        except Exception:  # noqa: BLE001 - flash not supported for this shape/GPU
            attention.append(None)
        del q, k, v
        torch.cuda.empty_cache()

    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "gemm": gemm, "attention": attention}))


if __name__ == "__main__":
    main()
