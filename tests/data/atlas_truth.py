# Independent numpy computation of the AAL3 numbers asserted in tests/atlas.rs:
# the atlas on the MNI 2 mm grid by exact subsampling (no resampling code),
# voxel counts per lobe, SPEC-model crop/pad to 96^3, 6^3 majority tokens.
# Run from the repository root: python3 tests/data/atlas_truth.py
import nibabel as nib, numpy as np, csv
img = nib.load('atlases/AAL3v1_1mm.nii.gz'); a = np.asarray(img.dataobj).astype(int)
# MNI 2mm LAS grid: voxel i -> x = 90-2i ; atlas RAS: x = i' - 90 -> i' = 180 - 2i ; y: -126+2j -> j'=2j ; z: 2k
lab = a[180::-2, 0::2, 0::2]
assert lab.shape == (91,109,91), lab.shape
rows = list(csv.DictReader(open('atlases/AAL3v1_labels.tsv'), delimiter='\t'))
grp = {int(r['index']): r['group'] for r in rows}
tot = sum((lab == i).sum() for i in grp)
by = {}
for i,g in grp.items(): by[g] = by.get(g,0) + int((lab==i).sum())
print('total', tot, {g: (v, round(100*v/tot,2)) for g,v in by.items()})
# crop/pad to 96
def cp(arr, axis, size=96):
    s = arr.shape[axis]
    if s > size:
        st = (s-size)//2; return np.take(arr, range(st, st+size), axis=axis)
    p = size - s; w = [(0,0)]*3; w[axis] = ((p+1)//2, p//2); return np.pad(arr, w)
x = lab
for ax in range(3): x = cp(x, ax)
tok = np.zeros((16,16,16), int)
for i in range(16):
  for j in range(16):
    for k in range(16):
      p = x[6*i:6*i+6, 6*j:6*j+6, 6*k:6*k+6].ravel(); p = p[p>0]
      if p.size: 
        vals, cnt = np.unique(p, return_counts=True); tok[i,j,k] = vals[np.argmax(cnt)]  # argmax picks first = lowest id on ties
present = set(np.unique(lab)) - {0}
surv = set(np.unique(tok)) - {0}
print('present', len(present), 'with tokens', len(surv), 'lost', sorted(present - surv))
names = {int(r['index']): r['name'] for r in rows}
print([names[i] for i in sorted(present-surv)])
tg = {}
for i in surv: tg[grp[i]] = tg.get(grp[i],0) + int((tok==i).sum())
print('tokens by group', tg, 'token total', int((tok>0).sum()))
print('Precentral_L voxels', int((lab==1).sum()), 'tokens', int((tok==1).sum()))
print('Vermis_1_2', int((lab==113).sum()), int((tok==113).sum()))
# Input-cube (after crop/pad) voxel counts used by tests/masking.rs.
cereb = [i for i, g in grp.items() if g == 'cerebellum']
print('cerebellum voxels in the 96^3 input', int(np.isin(x, cereb).sum()))
limbic = [i for i, g in grp.items() if g == 'limbic']
print('limbic voxels in the 96^3 input', int(np.isin(x, limbic).sum()))
# Numbers asserted in src/viewer/summary.rs: both hippocampi (41, 42) on the
# 1 mm atlas and as 16^3 tokens; the brain's tokens on the 2 mm grid.
print('hippocampus L/R 1 mm voxels', int((a == 41).sum()), int((a == 42).sum()),
      'brain 1 mm voxels', int((a > 0).sum()))
print('hippocampus L/R tokens (2 mm)', int((tok == 41).sum()), int((tok == 42).sum()),
      'brain tokens', int((tok > 0).sum()))
# The MNI 4 mm grid (x = 90-4i, y = -126+4j, z = -72+4k: 46x55x46), crop/pad
# to 48^3, 3^3 majority tokens.
lab4 = a[180::-4, 0::4, 0::4]
assert lab4.shape == (46, 55, 46), lab4.shape
x4 = lab4
for ax in range(3): x4 = cp(x4, ax, 48)
tok4 = np.zeros((16,16,16), int)
for i in range(16):
  for j in range(16):
    for k in range(16):
      p = x4[3*i:3*i+3, 3*j:3*j+3, 3*k:3*k+3].ravel(); p = p[p>0]
      if p.size:
        vals, cnt = np.unique(p, return_counts=True); tok4[i,j,k] = vals[np.argmax(cnt)]
print('4 mm tokens of regions 1, 41, 77, 95', [int((tok4 == i).sum()) for i in (1, 41, 77, 95)])
print('1 mm voxels of regions 1, 41, 77, 95', [int((a == i).sum()) for i in (1, 41, 77, 95)])
# Regions of the 1 mm atlas that no 2 mm token owns (lost at 6^3 patches, or
# not on the 2 mm grid at all): what "mask everything" vanishes.
present_1mm = set(np.unique(a)) - {0}
print('vanished ids', sorted(int(i) for i in present_1mm - surv))
# Patches (6^3) of the 96^3 input holding at least one limbic / cerebellum
# voxel: what voxel-level partial ROI masking draws from (tests/masking.rs).
for g in ('limbic', 'cerebellum'):
    ids = [i for i, gg in grp.items() if gg == g]
    held = np.isin(x, ids).reshape(16, 6, 16, 6, 16, 6).any(axis=(1, 3, 5))
    print(g, 'patches holding a voxel', int(held.sum()))
