"""How tests/data/clip_vit_tiny_torchscript.pt{,_io.npz} were made (needs torch; not run by the tests).

A TorchScript archive laid out like OpenAI's released CLIP ``.pt`` files: a traced module tree with
``visual.*`` (the image tower, fp16 weights), text-side entries and an ``input_resolution`` buffer. It
holds the weights of ../shared/parity/clip/clip_visual_tiny (rounded to fp16); the npz holds that
fixture's input and the embedding torch computes from the fp16 weights in float32.

    python tests/data/make_clip_torchscript.py ../shared/parity/clip/clip_visual_tiny \
        tests/data/clip_vit_tiny_torchscript.pt tests/data/clip_vit_tiny_torchscript_io.npz
"""
import sys, numpy as np, torch, torch.nn as nn
from collections import OrderedDict
class QuickGELU(nn.Module):
    def forward(self, x): return x * torch.sigmoid(1.702 * x)
class Blk(nn.Module):
    def __init__(s, w, h):
        super().__init__()
        s.attn = nn.MultiheadAttention(w, h); s.ln_1 = nn.LayerNorm(w)
        s.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(w, 4*w)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(4*w, w))]))
        s.ln_2 = nn.LayerNorm(w)
    def forward(s, x):
        y = s.ln_1(x)
        x = x + s.attn(y, y, y, need_weights=False)[0]
        return x + s.mlp(s.ln_2(x))
class T(nn.Module):
    def __init__(s, w, l, h):
        super().__init__(); s.resblocks = nn.Sequential(*[Blk(w, h) for _ in range(l)])
    def forward(s, x): return s.resblocks(x)
class V(nn.Module):
    def __init__(s, r=32, p=8, w=32, l=2, h=2, o=16):
        super().__init__()
        s.conv1 = nn.Conv2d(3, w, p, p, bias=False)
        s.class_embedding = nn.Parameter(torch.randn(w)); s.positional_embedding = nn.Parameter(torch.randn((r//p)**2+1, w))
        s.ln_pre = nn.LayerNorm(w); s.transformer = T(w, l, h); s.ln_post = nn.LayerNorm(w); s.proj = nn.Parameter(torch.randn(w, o))
    def forward(s, x):
        x = s.conv1(x).flatten(2).permute(0, 2, 1)
        x = torch.cat([s.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1]), x], 1) + s.positional_embedding
        x = s.ln_pre(x).permute(1, 0, 2); x = s.transformer(x).permute(1, 0, 2)
        return s.ln_post(x[:, 0]) @ s.proj
class C(nn.Module):
    def __init__(s):
        super().__init__(); s.visual = V(); s.logit_scale = nn.Parameter(torch.ones([])); s.text_projection = nn.Parameter(torch.randn(8, 16))
        s.register_buffer("input_resolution", torch.tensor(32))
    def forward(s, x): return s.visual(x)
fix = sys.argv[1]
w = np.load(fix + "/weights.npz"); io = np.load(fix + "/io.npz")
m = C()
sd = {"visual." + k: torch.from_numpy(w[k]).half().float() for k in w.files}
missing = m.load_state_dict(sd, strict=False)
assert set(missing.missing_keys) == {"logit_scale", "text_projection", "input_resolution"}, missing
m.eval()
x = torch.from_numpy(io["input"])
with torch.no_grad():
    ref = m(x).numpy()
ts = torch.jit.trace(m, x)
ts = ts.half()
torch.jit.save(ts, sys.argv[2])
np.savez_compressed(sys.argv[3], input=io["input"], embedding=ref)
print("max diff to fixture (fp16 weights):", np.abs(ref - io["embedding"]).max())
