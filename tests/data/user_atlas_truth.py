# Independent nibabel/numpy computation of the numbers asserted in
# tests/user_atlas.rs for the two atlases NeuroSTORM ships
# (../shared/atlases/neurostorm, same files as atlases/schaefer_100_7net):
# names by value with the table's v+1 shift, the Schaefer groups, per-region
# centroids (L/R), and token maps on the atlas's own 2 mm grid (99x117x95,
# crop/pad to 96^3, 6^3 majority patches) and at 4 mm (every second voxel:
# 50x59x48, crop/pad to 48^3, 3^3 patches), exactly as SPEC-model's
# crop/pad (start (s-n)//2; pad ceil/floor) and ties to the lower id.
# Run from the repository root: python3 tests/data/user_atlas_truth.py
import nibabel as nib, numpy as np, csv
def cp(arr, axis, size):
    s = arr.shape[axis]
    if s > size:
        st = (s-size)//2; return np.take(arr, range(st, st+size), axis=axis)
    p = size - s; w = [(0,0)]*3; w[axis] = ((p+1)//2, p//2); return np.pad(arr, w)
def tokens(lab, n, p):
    x = lab
    for ax in range(3): x = cp(x, ax, n)
    t = n // p
    tok = np.zeros((t,t,t), int)
    for i in range(t):
      for j in range(t):
        for k in range(t):
          v = x[p*i:p*i+p, p*j:p*j+p, p*k:p*k+p].ravel(); v = v[v>0]
          if v.size:
            vals, cnt = np.unique(v, return_counts=True); tok[i,j,k] = vals[np.argmax(cnt)]
    return tok
for name in ['schaefer_100_7net', 'harvard_oxford_cort']:
    d = '../shared/atlases/neurostorm/' + name
    img = nib.load(d + '/atlas.nii.gz'); a = np.asarray(img.dataobj)
    assert np.all(a == np.round(a)); a = a.astype(int)
    rows = {int(r['index']): r['name'] for r in csv.DictReader(open(d + '/labels.csv'))}
    vals = sorted(set(np.unique(a)) - {0})
    names = {v: rows[v+1] for v in vals}
    print(name, img.get_data_dtype(), 'values', len(vals), vals[0], vals[-1],
          'value1', names[1], 'last', names[vals[-1]], 'brain voxels', int((a>0).sum()))
    aff = img.affine
    cent = {}
    for v in vals:
        ijk = np.argwhere(a == v).mean(axis=0); cent[v] = aff[:3,:3] @ ijk + aff[:3,3]
    if name.startswith('schaefer'):
        groups = []
        for v in vals:
            p = names[v].split('_'); g = p[1] + '_' + p[2]
            if g not in groups: groups.append(g)
        print(' groups', len(groups), groups)
        lh = [v for v in vals if '_LH_' in names[v]]
        print(' LH', len(lh), 'max LH centroid x', round(max(cent[v][0] for v in lh), 2),
              'min RH centroid x', round(min(cent[v][0] for v in vals if v not in lh), 2))
        vis1 = [v for v in vals if names[v] == '7Networks_LH_Vis_1'][0]
        print(' LH_Vis_1 voxels', int((a == vis1).sum()), 'centroid', np.round(cent[vis1], 2))
    t2 = tokens(a, 96, 6)
    print(' 2 mm/6^3: regions with tokens', len(set(np.unique(t2)) - {0}), 'brain tokens', int((t2>0).sum()),
          'tokens of value 1', int((t2==1).sum()))
    a4 = a[::2, ::2, ::2]; assert a4.shape == (50, 59, 48), a4.shape
    t4 = tokens(a4, 48, 3)
    print(' 4 mm/3^3: regions with tokens', len(set(np.unique(t4)) - {0}), 'brain tokens', int((t4>0).sum()),
          'tokens of value 1', int((t4==1).sum()))
