"""Loads a PyTorch checkpoint without torch, as torch.load(weights_only=True)
would: CPython's pickle machinery, restricted to the globals that torch's
weights-only unpickler allows, with storages read from the zip archive.
Compares every tensor of CANDIDATE with REFERENCE (same keys, order, shapes,
bit-identical values) and prints one JSON line. Exit 0 only if all match.

usage: torch_load_check.py CANDIDATE REFERENCE
"""
import collections
import json
import pickle
import sys
import zipfile

import numpy as np

DTYPES = {"FloatStorage": np.float32, "IntStorage": np.int32, "LongStorage": np.int64,
          "DoubleStorage": np.float64, "HalfStorage": np.float16, "ByteStorage": np.uint8,
          "BoolStorage": np.bool_}


class Storage:
    def __init__(self, name):
        self.name = name


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *rest):
    data, dtype = storage
    itemsize = np.dtype(dtype).itemsize
    arr = np.frombuffer(data, dtype=dtype)
    return np.lib.stride_tricks.as_strided(
        arr[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)).copy()


ALLOWED = {("collections", "OrderedDict"): collections.OrderedDict,
           ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2}
ALLOWED.update({("torch", n): Storage(n) for n in DTYPES})


def load(path):
    z = zipfile.ZipFile(path)
    names = z.namelist()
    root = names[0].split("/")[0]
    assert all(n.startswith(root + "/") for n in names), "one top-level folder"
    assert z.read(f"{root}/byteorder") == b"little"

    class Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) not in ALLOWED:
                raise pickle.UnpicklingError(f"weights_only forbids {module}.{name}")
            return ALLOWED[(module, name)]

        def persistent_load(self, pid):
            kind, storage_type, key, location, numel = pid
            assert kind == "storage" and location == "cpu"
            dtype = DTYPES[storage_type.name]
            data = z.read(f"{root}/data/{key}")
            assert len(data) == numel * np.dtype(dtype).itemsize, f"storage {key} size"
            return (data, dtype)

    with z.open(f"{root}/data.pkl") as f:
        return Restricted(f).load()


def main():
    cand, ref = load(sys.argv[1]), load(sys.argv[2])
    cs, rs = cand["state_dict"], ref["state_dict"]
    assert isinstance(cs, collections.OrderedDict)
    ref_keys = [k for k in rs if rs[k].dtype == np.float32]
    problems = []
    if list(cs.keys()) != ref_keys:
        problems.append("key order differs")
    for k in ref_keys:
        if k not in cs:
            problems.append(f"missing {k}")
        elif cs[k].shape != rs[k].shape:
            problems.append(f"{k}: shape {cs[k].shape} vs {rs[k].shape}")
        elif cs[k].tobytes() != rs[k].tobytes():
            problems.append(f"{k}: values differ")
    print(json.dumps({"tensors": len(cs), "reference_tensors": len(ref_keys),
                      "top_level": sorted(cand.keys()), "problems": problems[:10]}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
