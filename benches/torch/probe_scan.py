#!/usr/bin/env python3
"""Time one selective-scan call, forward and backward, for mamba's
selective_scan_ref, bench_neurostorm.scan_unbind and bench_neurostorm.scan_fused,
at one Mamba shape
(b = windows x batch, d = d_inner, L = tokens per window, d_state 16).
Also checks that all give the same output and the same gradients.

  python probe_scan.py --mamba /tmp/mamba --b 320 --d 72     # mni4mm stage 0
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mamba", required=True)
    ap.add_argument("--b", type=int, required=True)
    ap.add_argument("--d", type=int, required=True)
    ap.add_argument("--L", type=int, default=256)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    import bench_neurostorm as bn
    ssi = bn.load_mamba(args.mamba)
    torch.set_num_threads(args.threads)
    b, d, L, n = args.b, args.d, args.L, args.n
    g = torch.Generator().manual_seed(0)
    ts = [torch.randn(b, d, L, generator=g), torch.randn(b, d, L, generator=g) - 2,
          -torch.rand(d, n, generator=g) * 5, torch.randn(b, n, L, generator=g),
          torch.randn(b, n, L, generator=g), torch.randn(d, generator=g),
          torch.randn(b, d, L, generator=g), torch.randn(d, generator=g)]
    for t in ts:
        t.requires_grad_()
    u, dt, A, B, C, D, z, db = ts
    res = {}
    for name, f in (("ref", ssi.selective_scan_ref), ("unbind", bn.scan_unbind),
                    ("fused", bn.scan_fused)):
        for t in ts:
            t.grad = None
        t0 = time.perf_counter()
        y = f(u, dt, A, B, C, D, z=z, delta_bias=db, delta_softplus=True)
        t1 = time.perf_counter()
        y.sum().backward()
        t2 = time.perf_counter()
        res[name] = (y.detach(), [t.grad.clone() for t in ts])
        print(f"{name} b={b} d={d} L={L}: fwd {t1 - t0:.3f}s bwd {t2 - t1:.3f}s", flush=True)
    for other in ("unbind", "fused"):
        same_y = torch.equal(res["ref"][0], res[other][0])
        y_diff = float((res["ref"][0] - res[other][0]).abs().max()
                       / res["ref"][0].abs().max())
        worst = max(float((a - c).abs().max() / a.abs().max().clamp_min(1e-30))
                    for a, c in zip(res["ref"][1], res[other][1]))
        print(f"{other}: output identical: {same_y} (rel diff {y_diff:.3g}); "
              f"worst grad rel diff: {worst:.3g}")


if __name__ == "__main__":
    main()
