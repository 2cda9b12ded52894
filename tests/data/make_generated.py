"""Writes the small NIfTI files in generated/ with nibabel, and for each one a
.expected.json of what nibabel reads back (shape, datatype, zooms, affine,
codes, orientation, stats of the scaled data in float64, every voxel).

Run once with `python3 make_generated.py` (nibabel >= 5); the outputs are
committed, so the Rust tests need no Python. They cover every datatype the
reader supports in both byte orders, scaling, a .hdr/.img pair, a 3D file,
NaN/Inf voxels, qform-only and no-transform headers, and TR in milliseconds.
"""
import json
import os

import nibabel as nib
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
SHAPE = (5, 4, 3, 2)
AFFINE = np.array([[-3.0, 0.1, 0.0, 40.0], [0.0, 3.0, 0.2, -50.0], [0.05, 0.0, 3.5, -20.0], [0, 0, 0, 1]])


def expected(img, name):
    data = img.get_fdata()  # float64, scaled
    finite = data[np.isfinite(data)]
    h = img.header
    out = {
        "file": name,
        "shape": list(img.shape),
        "datatype": str(h.get_data_dtype()),
        "zooms": [float(z) for z in h.get_zooms()],
        "affine": img.affine.tolist(),
        "sform_code": int(h["sform_code"]),
        "qform_code": int(h["qform_code"]),
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        "stats": {
            "min": float(finite.min()),
            "max": float(finite.max()),
            "mean": float(finite.mean()),
            "std": float(finite.std()),
        },
        "nonfinite": int(data.size - finite.size),
        # Fortran order, as the file stores them.
        "values": [None if not np.isfinite(v) else float(v) for v in data.ravel(order="F")],
    }
    with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
        json.dump(out, f)


def save(img, name):
    path = os.path.join(OUT, name)
    nib.save(img, path)
    expected(nib.load(path), name)


def values_for(dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        lo, hi = max(info.min, -30000), min(info.max, 60000)
        arr = rng.integers(lo, hi, size=SHAPE, endpoint=True).astype(dtype)
        arr.flat[0] = info.min if info.bits <= 16 else arr.flat[0]
        arr.flat[1] = info.max if info.bits <= 16 else arr.flat[1]
        return arr
    return (rng.standard_normal(SHAPE) * 1000).astype(dtype)


for dtype in ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]:
    for order in ["<", ">"]:
        if np.dtype(dtype).itemsize == 1 and order == ">":
            continue
        dt = np.dtype(dtype).newbyteorder(order)
        header = nib.Nifti1Header(endianness=order)
        header.set_data_dtype(dtype)
        img = nib.Nifti1Image(values_for(dtype), AFFINE, header=header)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = 2.5
        suffix = "be" if order == ">" else "le"
        save(img, f"{dtype}_{suffix}.nii")

# Scaled int16, gzip.
img = nib.Nifti1Image(rng.integers(-500, 500, size=SHAPE).astype(np.int16), AFFINE)
img.header.set_slope_inter(0.25, 100.0)
img.header.set_xyzt_units("mm", "msec")
img.header["pixdim"][4] = 800.0
save(img, "scaled_int16_tr_ms.nii.gz")

# Analyze-style pair.
pair = nib.Nifti1Pair(values_for("int16"), AFFINE)
save(pair, "pair_int16.hdr")

# 3D float32 with NaN and Inf.
vol = rng.standard_normal(SHAPE[:3]).astype(np.float32)
vol[0, 0, 0] = np.nan
vol[1, 2, 1] = np.inf
vol[4, 3, 2] = -np.inf
save(nib.Nifti1Image(vol, AFFINE), "nan_inf_3d.nii")

# qform only (sform_code 0), oblique.
img = nib.Nifti1Image(values_for("int16")[..., 0], None)
theta = np.deg2rad(20)
rot = np.array([[np.cos(theta), -np.sin(theta), 0, 10], [np.sin(theta), np.cos(theta), 0, -5], [0, 0, 1, 3], [0, 0, 0, 1]])
img.set_qform(rot @ np.diag([2.0, 2.5, 3.0, 1.0]), code=1)
img.set_sform(None, code=0)
save(img, "qform_only.nii")

# Neither sform nor qform: pixdim-based base affine.
img = nib.Nifti1Image(values_for("uint8")[..., 0], np.diag([2.0, 3.0, 4.0, 1.0]))
img.set_qform(None, code=0)
img.set_sform(None, code=0)
save(img, "no_xform.nii")
print("wrote", len(os.listdir(OUT)), "files to", OUT)
