#!/usr/bin/env python3
"""The PyTorch twin of ember's convolutional autoencoder (models/autoencoder.h) and of the MLP that classifies its
embeddings, and the weights round trip between the two, for CIFAR-10's 3 x 32 x 32 and MNIST's 1 x 28 x 28.

    torch_autoencoder.py EMBER_TORCH_AUTOENCODER WORKDIR

1. ember -> PyTorch: the helper exports weights, an input in [0, 1] and its embedding, reconstruction and MLP
   logits; PyTorch loads the weights strictly (same keys, same order) and must reproduce all three.
2. PyTorch -> ember: PyTorch builds both with its own default initialisation and saves weights, input and outputs;
   ember loads the weights and must reproduce the outputs.
Tolerance |ember - torch| <= 1e-5 + 1e-5 |torch| per element. Exit 77 (CTest: skipped) when torch is missing.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import load_safetensors, save_safetensors  # exits 77 when torch is missing
from torch_models import compare as compare_tensor

import torch
import torch.nn as nn

CASES = {"cifar10": (3, 32, 32, 64), "mnist": (1, 28, 28, 16)}


class Autoencoder(nn.Module):
    """Encoder (3 conv-BN-ReLU-maxpool stages, Linear to the embedding), Linear back, decoder (3 upsample-conv
    stages, BN-ReLU after the first two), sigmoid. H, W are padded to a multiple of 8 by the first conv and cropped back at the end."""

    def __init__(self, channels=3, height=32, width=32, embedding_dim=64):
        super().__init__()
        self.height, self.width = height, width
        self.ph, self.pw = -(-height // 8) * 8, -(-width // 8) * 8
        bottleneck = 128 * (self.ph // 8) * (self.pw // 8)
        first_pad = (1 + (self.ph - height) // 2, 1 + (self.pw - width) // 2)
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=first_pad), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(bottleneck, embedding_dim))
        self.decoder_input = nn.Linear(embedding_dim, bottleneck)
        self.decoder = nn.Sequential(
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(128, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(64, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(32, channels, 3, padding=1))

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        h = self.decoder_input(z).view(-1, 128, self.ph // 8, self.pw // 8)
        out = torch.sigmoid(self.decoder(h))
        top, left = (self.ph - self.height) // 2, (self.pw - self.width) // 2
        return out[:, :, top:top + self.height, left:left + self.width]

    def forward(self, x):
        return self.decode(self.encode(x))


def embedding_mlp(embedding_dim, hidden=128, classes=10):
    return nn.Sequential(nn.Linear(embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def build(name):
    c, h, w, d = CASES[name]
    return Autoencoder(c, h, w, d), embedding_mlp(d)


def outputs(model, mlp, x):
    z = model.encode(x)
    return {"embedding": z, "reconstruction": model.decode(z), "mlp_logits": mlp(z)}


def compare(name, direction, got, expected):
    """torch_models.compare (the same tolerance) for each of the three outputs; every one is printed."""
    return all([compare_tensor(f"{name} {key}", direction, got[key], expected[key])
                for key in ("embedding", "reconstruction", "mlp_logits")])


def main():
    helper, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(2)
    start = time.time()
    all_ok = True

    subprocess.run([helper, "export", workdir], check=True)
    for name in CASES:
        model, mlp = build(name)
        weights = load_safetensors(os.path.join(workdir, name + ".ember.safetensors"))
        expected_keys = list(model.state_dict()) + ["mlp." + k for k in mlp.state_dict()]
        assert list(weights) == expected_keys, f"{name}: ember's keys {list(weights)} differ from PyTorch's"
        model.load_state_dict({k: v for k, v in weights.items() if not k.startswith("mlp.")}, strict=True)
        model.eval()
        mlp.load_state_dict({k[4:]: v for k, v in weights.items() if k.startswith("mlp.")}, strict=True)
        io = load_safetensors(os.path.join(workdir, name + ".ember_io.safetensors"))
        with torch.no_grad():
            all_ok &= compare(name, "ember->torch", io, outputs(model, mlp, io["input"]))

    torch.manual_seed(0)
    for name in CASES:
        model, mlp = build(name)
        c, h, w, _ = CASES[name]
        x = torch.rand(2, c, h, w)
        with torch.no_grad():
            for p in model.parameters():  # BatchNorm's constant initial weight and bias would hide swaps
                if p.std() == 0:
                    p.add_(0.1 * torch.randn_like(p))
            model.train()
            model(torch.rand(4, c, h, w))  # BatchNorm running statistics and counters move
            model.eval()
            out = outputs(model, mlp, x)
        weights = dict(model.state_dict())
        weights.update({"mlp." + k: v for k, v in mlp.state_dict().items()})
        save_safetensors(os.path.join(workdir, name + ".torch.safetensors"), weights, {"format": "pt"})
        save_safetensors(os.path.join(workdir, name + ".torch_io.safetensors"), {"input": x, **out})
    subprocess.run([helper, "forward", workdir], check=True)
    for name in CASES:
        got = load_safetensors(os.path.join(workdir, name + ".ember_on_torch.safetensors"))
        expected = load_safetensors(os.path.join(workdir, name + ".torch_io.safetensors"))
        all_ok &= compare(name, "torch->ember", got, expected)

    print(f"{len(CASES)} shapes, {time.time() - start:.1f} s")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
