#!/usr/bin/env python3
"""The PyTorch originals of ember's seven study models and of CNN_context_fovea (Task 2), and the weights round
trip between the two.

The models are written from shared/spec/models.md (= kuangliu/pytorch-cifar's ResNets, the Jovian/Kaggle
Cifar10CnnModel, and kentaroy47/vision-transformers-cifar10's vit.py, vit_small.py and simplevit.py with
einops' Rearrange spelled out), so their state_dict keys are the originals'.

    torch_models.py EMBER_TORCH_ROUNDTRIP WORKDIR [MODEL...]

1. ember -> PyTorch: the helper exports each model's weights (after one training-mode forward, so BatchNorm
   statistics are not trivial), an input and its eval-mode logits; PyTorch loads the weights strictly and
   must reproduce the logits.
2. PyTorch -> ember: PyTorch builds each model with its own default initialisation (constant-initialised
   parameters perturbed, BatchNorm statistics from one training-mode forward), saves weights, input and
   logits; ember loads the weights and must reproduce the logits.
Tolerance |ember - torch| <= 1e-5 + 1e-5 |torch| per logit. safetensors files are read and written by hand
(no `safetensors` package). Exit 77 (CTest: skipped) when torch is not importable.
"""
import json
import math
import os
import struct
import subprocess
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("SKIP: torch is not importable")
    sys.exit(77)

MODELS = ["CNN", "ResNet_18", "ResNet_34", "ViT", "ViT_small", "ViT_tiny", "ViT_simple", "CNN_context_fovea"]
IMAGE_SIDE = {"CNN_context_fovea": 64}  # the others take CIFAR-10's 32 x 32
RTOL = ATOL = 1e-5

# ---- safetensors by hand ----------------------------------------------------------------------------

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64,
          "I32": torch.int32, "U8": torch.uint8}
NAMES = {v: k for k, v in DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        data = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(path + ".tmp", path)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                             key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.uint8) if end > begin else torch.empty(0, dtype=torch.uint8)
        out[name] = t.view(DTYPES[info["dtype"]]).reshape(info["shape"]).clone()
    return out

# ---- CNN (Jovian Cifar10CnnModel) -----------------------------------------------------------------------


class Cifar10CnnModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.network = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 128, kernel_size=3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(128, 128, kernel_size=3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(128, 256, kernel_size=3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(256 * 4 * 4, 1024), nn.ReLU(),
            nn.Linear(1024, 512), nn.ReLU(),
            nn.Linear(512, 10))

    def forward(self, xb):
        return self.network(xb)

# ---- CNN_context_fovea (Task 2.1.3: Karpathy et al. 2014's multiresolution CNN from the study CNN) ------------


def cnn_features():
    return nn.Sequential(*list(Cifar10CnnModel().network.children())[:15])


class ContextFoveaCnn(nn.Module):
    def __init__(self, image_size=64):
        super().__init__()
        self.context = cnn_features()  # the whole image at half resolution
        self.fovea = cnn_features()    # the central half of the image at full resolution
        self.classifier = nn.Sequential(
            nn.Linear(2 * 256 * (image_size // 16) ** 2, 1024), nn.ReLU(),
            nn.Linear(1024, 512), nn.ReLU(),
            nn.Linear(512, 10))

    def forward(self, x):
        h, w = x.shape[-2:]
        context = self.context(F.avg_pool2d(x, 2))
        fovea = self.fovea(x[:, :, h // 4:h // 4 + h // 2, w // 4:w // 4 + w // 2])
        return self.classifier(torch.cat([context.flatten(1), fovea.flatten(1)], 1))

# ---- ResNet (kuangliu/pytorch-cifar models/resnet.py) ---------------------------------------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)

# ---- ViTs (kentaroy47/vision-transformers-cifar10) ------------------------------------------------------


class Patchify(nn.Module):
    """einops Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)')."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        b, c, hh, ww = x.shape
        p = self.p
        x = x.reshape(b, c, hh // p, p, ww // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (hh // p) * (ww // p), p * p * c)


def split_heads(t, h):  # 'b n (h d) -> b h n d'
    b, n, hd = t.shape
    return t.reshape(b, n, h, hd // h).transpose(1, 2)


def merge_heads(t):  # 'b h n d -> b n (h d)'
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden_dim, dropout=0.):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, dim), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class Attention(nn.Module):
    def __init__(self, dim, heads=8, dim_head=64, dropout=0.):
        super().__init__()
        inner_dim = dim_head * heads
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.attend = nn.Softmax(dim=-1)
        self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner_dim, dim), nn.Dropout(dropout))

    def forward(self, x):
        q, k, v = (split_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = self.attend(torch.matmul(q, k.transpose(-1, -2)) * self.scale)
        return self.to_out(merge_heads(torch.matmul(attn, v)))


class LSA(nn.Module):
    def __init__(self, dim, heads=8, dim_head=64, dropout=0.):
        super().__init__()
        inner_dim = dim_head * heads
        self.heads = heads
        self.temperature = nn.Parameter(torch.log(torch.tensor(dim_head ** -0.5)))
        self.attend = nn.Softmax(dim=-1)
        self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner_dim, dim), nn.Dropout(dropout))

    def forward(self, x):
        q, k, v = (split_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        dots = torch.matmul(q, k.transpose(-1, -2)) * self.temperature.exp()
        mask = torch.eye(dots.shape[-1], device=dots.device, dtype=torch.bool)
        dots = dots.masked_fill(mask, -torch.finfo(dots.dtype).max)
        attn = self.attend(dots)
        return self.to_out(merge_heads(torch.matmul(attn, v)))


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim, dropout=0., attention=Attention):
        super().__init__()
        self.layers = nn.ModuleList([])
        for _ in range(depth):
            self.layers.append(nn.ModuleList([
                PreNorm(dim, attention(dim, heads=heads, dim_head=dim_head, dropout=dropout)),
                PreNorm(dim, FeedForward(dim, mlp_dim, dropout=dropout))]))

    def forward(self, x):
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x


class SPT(nn.Module):
    def __init__(self, *, dim, patch_size, channels=3):
        super().__init__()
        patch_dim = patch_size * patch_size * 5 * channels
        self.to_patch_tokens = nn.Sequential(Patchify(patch_size), nn.LayerNorm(patch_dim), nn.Linear(patch_dim, dim))

    def forward(self, x):
        shifts = ((1, -1, 0, 0), (-1, 1, 0, 0), (0, 0, 1, -1), (0, 0, -1, 1))
        shifted_x = [F.pad(x, shift) for shift in shifts]
        return self.to_patch_tokens(torch.cat((x, *shifted_x), dim=1))


class ViT(nn.Module):
    def __init__(self, *, image_size=32, patch_size=4, num_classes=10, dim=512, depth=6, heads=8, mlp_dim=512,
                 channels=3, dim_head=64, dropout=0.1, emb_dropout=0.1, small_datasets=False):
        super().__init__()
        num_patches = (image_size // patch_size) ** 2
        patch_dim = channels * patch_size ** 2
        if small_datasets:
            self.to_patch_embedding = SPT(dim=dim, patch_size=patch_size, channels=channels)
        else:
            self.to_patch_embedding = nn.Sequential(Patchify(patch_size), nn.Linear(patch_dim, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.dropout = nn.Dropout(emb_dropout)
        self.transformer = Transformer(dim, depth, heads, dim_head, mlp_dim, dropout,
                                       attention=LSA if small_datasets else Attention)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def forward(self, img):
        x = self.to_patch_embedding(img)
        b, n, _ = x.shape
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        x = self.dropout(x + self.pos_embedding[:, :(n + 1)])
        x = self.transformer(x)
        return self.mlp_head(x[:, 0])


def posemb_sincos_2d(h, w, dim, temperature=10000, dtype=torch.float32):
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    omega = torch.arange(dim // 4) / (dim // 4 - 1)
    omega = 1.0 / (temperature ** omega)
    y = y.flatten()[:, None] * omega[None, :]
    x = x.flatten()[:, None] * omega[None, :]
    pe = torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1)
    return pe.type(dtype)


class SimpleFeedForward(nn.Module):
    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, dim))

    def forward(self, x):
        return self.net(x)


class SimpleAttention(nn.Module):
    def __init__(self, dim, heads=8, dim_head=64):
        super().__init__()
        inner_dim = dim_head * heads
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.norm = nn.LayerNorm(dim)
        self.attend = nn.Softmax(dim=-1)
        self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = nn.Linear(inner_dim, dim, bias=False)

    def forward(self, x):
        x = self.norm(x)
        q, k, v = (split_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = self.attend(torch.matmul(q, k.transpose(-1, -2)) * self.scale)
        return self.to_out(merge_heads(torch.matmul(attn, v)))


class SimpleTransformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim):
        super().__init__()
        self.layers = nn.ModuleList([])
        for _ in range(depth):
            self.layers.append(nn.ModuleList([SimpleAttention(dim, heads=heads, dim_head=dim_head),
                                              SimpleFeedForward(dim, mlp_dim)]))

    def forward(self, x):
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x


class SimpleViT(nn.Module):
    def __init__(self, *, image_size=32, patch_size=4, num_classes=10, dim=512, depth=6, heads=8, mlp_dim=512,
                 channels=3, dim_head=64):
        super().__init__()
        self.grid = image_size // patch_size
        self.to_patch_embedding = nn.Sequential(Patchify(patch_size), nn.Linear(channels * patch_size ** 2, dim))
        self.transformer = SimpleTransformer(dim, depth, heads, dim_head, mlp_dim)
        self.linear_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def forward(self, img):
        x = self.to_patch_embedding(img)  # tokens row-major over the grid, as 'b h w d -> b (h w) d'
        x = x + posemb_sincos_2d(self.grid, self.grid, x.shape[-1], dtype=x.dtype)
        x = self.transformer(x)
        return self.linear_head(x.mean(dim=1))


def build(name):
    return {
        "CNN": lambda: Cifar10CnnModel(),
        "ResNet_18": lambda: ResNet(BasicBlock, [2, 2, 2, 2]),
        "ResNet_34": lambda: ResNet(BasicBlock, [3, 4, 6, 3]),
        "ViT": lambda: ViT(),
        "ViT_small": lambda: ViT(small_datasets=True),
        "ViT_tiny": lambda: ViT(small_datasets=True, depth=4, heads=6, mlp_dim=256),
        "ViT_simple": lambda: SimpleViT(),
        "CNN_context_fovea": lambda: ContextFoveaCnn(),
    }[name]()

# ---- the round trip -------------------------------------------------------------------------------------


def compare(name, direction, got, expected):
    err = (got - expected).abs()
    ok = bool((err <= ATOL + RTOL * expected.abs()).all())
    print(f"{name:<17} {direction:<14} max |diff| {err.max().item():.3e}  (max |logit| {expected.abs().max().item():.3f})"
          f"  {'ok' if ok else 'FAIL'}")
    return ok


def main():
    helper, workdir = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or MODELS
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(2)
    start = time.time()
    all_ok = True

    subprocess.run([helper, "export", workdir, *names], check=True)
    for name in names:
        model = build(name)
        weights = load_safetensors(os.path.join(workdir, name + ".ember.safetensors"))
        assert list(weights) == list(model.state_dict()), f"{name}: ember's key order differs from PyTorch's"
        model.load_state_dict(weights, strict=True)
        model.eval()
        io = load_safetensors(os.path.join(workdir, name + ".ember_io.safetensors"))
        with torch.no_grad():
            all_ok &= compare(name, "ember->torch", io["logits"], model(io["input"]))

    torch.manual_seed(0)
    for name in names:
        model = build(name)
        with torch.no_grad():
            for p in model.parameters():  # constant initial values (norm weights/biases, temperature) would hide swaps
                if p.numel() == 1 or p.std() == 0:
                    p.add_(0.1 * torch.randn_like(p))
            model.train()
            side = IMAGE_SIDE.get(name, 32)
            model(torch.randn(4, 3, side, side))  # BatchNorm running statistics and counters move
            model.eval()
            x = torch.randn(2, 3, side, side)
            logits = model(x)
        save_safetensors(os.path.join(workdir, name + ".torch.safetensors"), model.state_dict(), {"format": "pt"})
        save_safetensors(os.path.join(workdir, name + ".torch_io.safetensors"), {"input": x, "logits": logits})
    subprocess.run([helper, "forward", workdir, *names], check=True)
    for name in names:
        got = load_safetensors(os.path.join(workdir, name + ".ember_on_torch.safetensors"))["logits"]
        expected = load_safetensors(os.path.join(workdir, name + ".torch_io.safetensors"))["logits"]
        all_ok &= compare(name, "torch->ember", got, expected)

    print(f"{len(names)} models, {time.time() - start:.1f} s")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
