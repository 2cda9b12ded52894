#!/usr/bin/env python3
"""PyTorch reference benchmark of one NeuroSTORM MAE training step.

Times the real NeuroSTORMMAE (CUHK-AIM-Group/NeuroSTORM, models/neurostorm.py)
on CPU in fp32: forward + masked-MSE loss (the model's own forward(), which
calls random_masking / forward_encoder / forward_decoder / forward_loss),
loss.backward(), AdamW.step() and zero_grad().

Nothing from NeuroSTORM or mamba is copied here: both are imported from the
checkouts given with --neurostorm and --mamba. The model is built the way the
golden fixtures in shared/fixtures/neurostorm were (see their README.md):
mamba-ssm v2.2.2's mamba_simple.Mamba with selective_scan_fn bound to
mamba's own selective_scan_ref (the sequential PyTorch scan, no CUDA kernels).
Weights, input (sample 0) and window mask (sample 0) are the fixture's
model.ckpt, input.npy and mask_raw.npy when that folder exists, and the first
loss is checked against meta.json; without it, NeuroSTORM's init under
torch.manual_seed(torch_init) plus 0.02 * randn per parameter, seeded input
and mask. The window mask is fixed by swapping numpy.random.shuffle only
inside random_masking, as the fixtures did.

Prints one JSON line on stdout; progress goes to stderr.
"""
import argparse
import importlib
import json
import os
import resource
import statistics
import sys
import time
import types

import numpy as np

# The fixture configs (copied from shared/fixtures/neurostorm/*/meta.json
# "config" and "derived_seeds"), used when no --meta is given.
PRESETS = {
    "tiny": {
        "config": {
            "img_size": [24, 24, 24, 8], "in_chans": 1, "embed_dim": 12,
            "window_size": [4, 4, 4, 4], "first_window_size": [4, 4, 4, 4],
            "patch_size": [3, 3, 3, 1], "depths": [2, 2, 2, 2],
            "num_heads": [3, 6, 12, 24], "c_multiplier": 2,
            "last_layer_full_MSA": True, "attn_drop_rate": 0.0,
            "mask_ratio": 0.5, "spatial_mask": "window", "time_mask": "random",
        },
        "derived_seeds": {"torch_init": 0, "perturb": 1, "input": 2, "mask": 3},
    },
    "mni4mm": {
        "config": {
            "img_size": [48, 48, 48, 20], "in_chans": 1, "embed_dim": 36,
            "window_size": [4, 4, 4, 4], "first_window_size": [4, 4, 4, 4],
            "patch_size": [3, 3, 3, 1], "depths": [2, 2, 6, 2],
            "num_heads": [3, 6, 12, 24], "c_multiplier": 2,
            "last_layer_full_MSA": True, "attn_drop_rate": 0.0,
            "mask_ratio": 0.5, "spatial_mask": "window", "time_mask": "random",
        },
        "derived_seeds": {"torch_init": 30, "perturb": 31, "input": 32, "mask": 33},
    },
}

DEFAULT_FIXTURES = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                 "shared", "fixtures", "neurostorm"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def stub_package(name, path):
    """Register an empty package whose submodules load from `path`, without
    running its __init__.py (mamba_ssm's pulls in Triton/CUDA-only code,
    NeuroSTORM's models/ pulls in every other model)."""
    pkg = types.ModuleType(name)
    pkg.__path__ = [path]
    sys.modules[name] = pkg
    return pkg


def load_mamba(mamba_root, scan="ref"):
    import torch  # noqa: F401
    # selective_scan_interface does `import selective_scan_cuda` at top level;
    # only its pure-PyTorch selective_scan_ref is used, so an empty stand-in
    # for the compiled extension is enough.
    sys.modules.setdefault("selective_scan_cuda", types.ModuleType("selective_scan_cuda"))
    pkg = stub_package("mamba_ssm", os.path.join(mamba_root, "mamba_ssm"))
    pkg.__version__ = "2.2.2"
    ssi = importlib.import_module("mamba_ssm.ops.selective_scan_interface")
    ms = importlib.import_module("mamba_ssm.modules.mamba_simple")
    # The fixture shim: mamba_simple's selective_scan_fn -> selective_scan_ref.
    ms.selective_scan_fn = {"ref": ssi.selective_scan_ref, "unbind": scan_unbind,
                            "fused": scan_fused}[scan]
    if ms.causal_conv1d_fn is not None:
        raise SystemExit("causal_conv1d is installed: Mamba would take the CUDA fast path")

    class Mamba2Unavailable:  # imported by neurostorm.py, never used by it
        def __init__(self, *a, **k):
            raise RuntimeError("Mamba2 is not available in this benchmark")

    pkg.Mamba = ms.Mamba
    pkg.Mamba2 = Mamba2Unavailable
    pkg.selective_scan_fn = ssi.selective_scan_ref
    pkg.mamba_inner_fn = ssi.mamba_inner_fn
    return ssi


def scan_unbind(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                return_last_state=False):
    """Our own rewrite of the sequential selective scan for the case Mamba uses
    (real A (d, n); B, C (b, n, l)). Same recurrence and the same op sequence
    as mamba's selective_scan_ref, so the forward values are identical, but the
    per-step slices come from unbind() instead of indexing: autograd then
    backpropagates the loop with one stack per tensor instead of one
    full-size zero tensor per step and slice (selective_scan_ref's backward is
    O(L^2) in memory traffic for that reason)."""
    import torch
    import torch.nn.functional as F
    assert not A.is_complex() and B.dim() == 3 and C.dim() == 3
    dtype_in = u.dtype
    u = u.float()
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    B = B.float()
    C = C.float()
    x = A.new_zeros((u.shape[0], A.shape[0], A.shape[1]))
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    ys = []
    for a_i, bu_i, c_i in zip(deltaA.unbind(2), deltaB_u.unbind(2), C.unbind(2)):
        x = a_i * x + bu_i
        ys.append(torch.einsum("bdn,bn->bd", x, c_i))
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    out = out.to(dtype=dtype_in)
    return out if not return_last_state else (out, x)


_FUSED_CORE = None


def _fused_core():
    """torch.autograd.Function for the core recurrence, built on first use
    (torch is imported lazily). Forward: one Python loop over L without
    autograd, keeping the states; backward: the reverse loop for dh and the
    gradients as einsums -- one autograd node per scan instead of L."""
    global _FUSED_CORE
    if _FUSED_CORE is not None:
        return _FUSED_CORE
    import torch

    class FusedScan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u, delta, A, B, C):
            # u, delta (b, d, l); A (d, n); B, C (b, n, l)
            dA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
            dBu = torch.einsum("bdl,bnl->bdln", delta * u, B)
            hs = torch.empty_like(dBu)
            x = torch.zeros_like(dBu[:, :, 0])
            for i in range(u.shape[2]):
                x = dA[:, :, i] * x + dBu[:, :, i]
                hs[:, :, i] = x
            ctx.save_for_backward(u, delta, A, B, C, dA, hs)
            return torch.einsum("bdln,bnl->bdl", hs, C)

        @staticmethod
        def backward(ctx, gy):
            u, delta, A, B, C, dA, hs = ctx.saved_tensors
            direct = torch.einsum("bdl,bnl->bdln", gy, C)
            dh = torch.empty_like(direct)
            carry = torch.zeros_like(direct[:, :, 0])
            for i in reversed(range(u.shape[2])):
                g = direct[:, :, i] + carry
                dh[:, :, i] = g
                carry = dA[:, :, i] * g
            h_prev = torch.cat([torch.zeros_like(hs[:, :, :1]), hs[:, :, :-1]], dim=2)
            gC = torch.einsum("bdln,bdl->bnl", hs, gy)
            gB = torch.einsum("bdln,bdl->bnl", dh, delta * u)
            g_du = torch.einsum("bdln,bnl->bdl", dh, B)  # d(delta*u)
            g_lin = dh * h_prev * dA  # d(delta*A)
            gdelta = torch.einsum("bdln,dn->bdl", g_lin, A) + g_du * u
            gA = torch.einsum("bdln,bdl->dn", g_lin, delta)
            return g_du * delta, gdelta, gA, gB, gC

    _FUSED_CORE = FusedScan
    return FusedScan


def scan_fused(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
               return_last_state=False):
    """The selective scan as one autograd node with a handwritten backward
    (our own code, the same recurrence as selective_scan_ref; the softplus,
    D skip and z gate stay ordinary autograd ops)."""
    import torch.nn.functional as F
    assert not A.is_complex() and B.dim() == 3 and C.dim() == 3
    assert not return_last_state
    dtype_in = u.dtype
    u = u.float()
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    y = _fused_core().apply(u, delta, A.float(), B.float(), C.float())
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    return out.to(dtype=dtype_in)


def load_neurostorm(ns_root):
    stub_package("neurostorm_models", os.path.join(ns_root, "models"))
    return importlib.import_module("neurostorm_models.neurostorm")


def fixed_masking(model, rows):
    """Wrap model.random_masking so that its numpy.random.shuffle writes our
    fixed 0/1 rows (one per sample) instead of shuffling; the rest of
    NeuroSTORM's random_masking runs unmodified."""
    orig = model.random_masking

    def wrapper(self, sequence):
        it = iter(rows)
        real = np.random.shuffle

        def fake_shuffle(arr):
            r = next(it)
            assert arr.shape == r.shape and int(arr.sum()) == int(r.sum()), \
                (arr.shape, r.shape, arr.sum(), r.sum())
            arr[...] = r

        np.random.shuffle = fake_shuffle
        try:
            return orig(sequence)
        finally:
            np.random.shuffle = real

    model.random_masking = types.MethodType(wrapper, model)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neurostorm", required=True, help="NeuroSTORM checkout (a8dc38f)")
    ap.add_argument("--mamba", required=True, help="state-spaces/mamba checkout (v2.2.2, 8ffd905)")
    ap.add_argument("--config", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--meta", default=None,
                    help="meta.json to take config and seeds from (default: the fixture's "
                         "meta.json, else the embedded copy of its config)")
    ap.add_argument("--fixture", default=None,
                    help="fixture folder (model.ckpt, input.npy, mask_raw.npy, meta.json); "
                         "default shared/fixtures/neurostorm/<config> if it exists; "
                         "'none' to build weights/input/mask from the seeds only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up steps (default 1)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--scan", choices=["ref", "unbind", "fused"], default="ref",
                    help="ref = mamba's selective_scan_ref (sequential PyTorch loop, as in "
                         "the fixtures); unbind = the same loop and arithmetic with unbind() "
                         "slicing, whose backward is O(L) instead of O(L^2)")
    args = ap.parse_args()

    # Idle OpenMP threads sleep instead of spinning. Must be set before torch
    # loads libgomp. On a machine busy with other work (a compile) the default
    # spin-waiting made 2-thread steps ~20-30x slower; an explicit
    # OMP_WAIT_POLICY in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass
    torch.set_default_dtype(torch.float32)

    fixture = args.fixture
    if fixture is None:
        cand = os.path.join(DEFAULT_FIXTURES, args.config)
        fixture = cand if os.path.isdir(cand) else None
    elif fixture == "none":
        fixture = None

    preset = PRESETS[args.config]
    meta_path = args.meta or (os.path.join(fixture, "meta.json") if fixture else None)
    meta = None
    if meta_path:
        with open(meta_path) as f:
            meta = json.load(f)
        cfg, seeds = meta["config"], meta["derived_seeds"]
    else:
        cfg, seeds = preset["config"], preset["derived_seeds"]

    load_mamba(args.mamba, args.scan)
    nsmod = load_neurostorm(args.neurostorm)

    # NeuroSTORM's PatchEmbed.forward calls torch.cuda.nvtx.range_push/pop;
    # on a torch without NVTX these raise, so make them no-ops there.
    nvtx = "native"
    try:
        torch.cuda.nvtx.range_push("probe")
        torch.cuda.nvtx.range_pop()
    except Exception:
        torch.cuda.nvtx.range_push = lambda *a, **k: None
        torch.cuda.nvtx.range_pop = lambda *a, **k: None
        nvtx = "noop"

    kwargs = dict(cfg)
    kwargs["img_size"] = tuple(kwargs["img_size"])
    torch.manual_seed(seeds["torch_init"])
    model = nsmod.NeuroSTORMMAE(**kwargs)
    g = torch.Generator().manual_seed(seeds["perturb"])
    with torch.no_grad():
        for _, p in model.named_parameters():
            p += 0.02 * torch.randn(p.shape, generator=g, dtype=p.dtype)
    weights = "seeded init + perturbation"
    if fixture and os.path.exists(os.path.join(fixture, "model.ckpt")):
        ck = torch.load(os.path.join(fixture, "model.ckpt"), weights_only=True)
        sd = {k.removeprefix("model."): v for k, v in ck["state_dict"].items()}
        mine = model.state_dict()
        same = all(torch.equal(mine[k], v) for k, v in sd.items() if k in mine)
        model.load_state_dict(sd, strict=True)
        weights = "fixture model.ckpt" + ("" if same else " (our seeded rebuild is not bit-equal; ckpt used)")
    n_params = sum(p.numel() for p in model.parameters())
    model.train()  # all dropout / drop-path rates are 0, so train() == eval() numerically

    B = args.batch
    X, Y, Z, T = cfg["img_size"]
    gi = torch.Generator().manual_seed(seeds["input"])
    x = torch.randn((B, cfg["in_chans"], X, Y, Z, T), generator=gi)
    if fixture and os.path.exists(os.path.join(fixture, "input.npy")):
        x[0] = torch.from_numpy(np.load(os.path.join(fixture, "input.npy"))[0])

    # Window mask rows in window_partition order, int(N * mask_ratio) ones each.
    ws = cfg["window_size"]
    grid = [X // cfg["patch_size"][0], Y // cfg["patch_size"][1], Z // cfg["patch_size"][2], T]
    n_win = 1
    for gdim, w in zip(grid, ws):
        n_win *= gdim // w
    n_mask = int(n_win * cfg["mask_ratio"])
    rows = []
    for b in range(B):
        r = np.zeros(n_win)
        r[np.random.default_rng(seeds["mask"] * 1000 + b).permutation(n_win)[:n_mask]] = 1.0
        rows.append(r)
    if fixture and os.path.exists(os.path.join(fixture, "mask_raw.npy")):
        raw = np.load(os.path.join(fixture, "mask_raw.npy")).astype(np.float64)
        if raw.shape == (1, n_win):
            rows[0] = raw[0]
    assert cfg["spatial_mask"] == "window" and cfg["time_mask"] == "random"
    fixed_masking(model, rows)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)

    # Optional check before any update: the loss of the first forward must be
    # the fixture's loss (same weights, input and mask, batch 1).
    fixture_loss = None
    if meta is not None and fixture and B == 1:
        with torch.no_grad():
            _, l0 = model(x)
        fixture_loss = {"got": float(l0), "expected": meta["loss"],
                        "rel_diff": abs(float(l0) - meta["loss"]) / abs(meta["loss"])}
        log("fixture loss check:", fixture_loss)

    fw, bw, op, tot, losses = [], [], [], [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        (pred, mask), loss = model(x)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        del pred, mask
        losses.append(float(loss.detach()))
        log(f"step {step}{' (warm-up)' if step < args.warmup else ''}: forward {t1 - t0:.3f}s "
            f"backward {t2 - t1:.3f}s optimizer {t3 - t2:.3f}s total {t3 - t0:.3f}s "
            f"loss {losses[-1]:.6f}")
        if step < args.warmup:
            continue
        fw.append(t1 - t0); bw.append(t2 - t1); op.append(t3 - t2); tot.append(t3 - t0)

    med = statistics.median
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {
        "impl": "pytorch-neurostorm",
        "torch": torch.__version__,
        "threads": args.threads,
        "preset": args.config,
        "batch": B,
        "step_s_median": round(med(tot), 4),
        "forward_s": round(med(fw), 4),
        "backward_s": round(med(bw), 4),
        "optimizer_s": round(med(op), 4),
        "clips_per_s": round(B / med(tot), 4),
        "peak_rss_mb": round(peak_kb / 1024.0, 1),
        "steps": args.steps,
        "warmup": args.warmup,
        "step_s_all": [round(t, 4) for t in tot],
        "scan": {"ref": "mamba selective_scan_ref", "unbind": "unbind (same loop as ref)",
                 "fused": "fused (one autograd node, handwritten backward)"}[args.scan],
        "params": n_params,
        "weights": weights,
        "mask_windows": f"{n_mask} of {n_win} per clip",
        "losses": [round(l, 6) for l in losses],
        "fixture_loss_check": fixture_loss,
        "nvtx": nvtx,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
