#!/usr/bin/env python3
"""The DCGAN of PyTorch's DCGAN tutorial at 32 x 32, and the weights round trip with ember's (models/dcgan.h).

    dcgan_twin.py EMBER_DCGAN_TWIN WORKDIR

1. ember -> PyTorch: the helper exports generator and discriminator weights (convolution weights scaled by 5
   so that the outputs are O(1); after one training-mode forward each), z, x and the eval-mode images G(z) and logits D(x); PyTorch loads the weights strictly (same keys,
   same order) and must reproduce both.
2. PyTorch -> ember: PyTorch's models (the tutorial's weights_init, BatchNorm statistics moved by one
   training-mode forward) are saved with z and x; ember loads them and must reproduce images and logits.
Tolerance |ember - torch| <= 1e-5 + 1e-5 |torch|. Exit 77 (CTest: skipped) when torch is not importable.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
    import torch.nn as nn
    from torch_models import compare, load_safetensors, save_safetensors
except ImportError:
    print("SKIP: torch is not importable")
    sys.exit(77)

NZ, NGF, NDF, NC = 16, 8, 8, 3  # tests/dcgan_twin.cpp's sizes


class Generator(nn.Module):  # the tutorial's, one stage fewer for 32 x 32
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z.view(z.size(0), NZ, 1, 1))


class Discriminator(nn.Module):  # the tutorial's without the final Sigmoid (BCEWithLogitsLoss takes logits)
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False))

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def main():
    helper, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(2)
    start = time.time()
    ok = True
    path = lambda name: os.path.join(workdir, name)

    subprocess.run([helper, "export", workdir], check=True)
    g, d = Generator(), Discriminator()
    for model, name in ((g, "generator"), (d, "discriminator")):
        weights = load_safetensors(path(name + ".ember.safetensors"))
        assert list(weights) == list(model.state_dict()), f"{name}: ember's keys differ from PyTorch's"
        model.load_state_dict(weights, strict=True)
        model.eval()
    io = load_safetensors(path("dcgan.ember_io.safetensors"))
    with torch.no_grad():
        ok &= compare("generator", "ember->torch", io["images"], g(io["z"]))
        ok &= compare("discrim.", "ember->torch", io["logits"], d(io["x"]))

    torch.manual_seed(0)
    g, d = Generator(), Discriminator()
    g.apply(weights_init)
    d.apply(weights_init)
    with torch.no_grad():
        for m in list(g.modules()) + list(d.modules()):  # outputs of O(1), as in the export (dcgan_twin.cpp)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.mul_(5.0)
        g(torch.randn(4, NZ))  # training mode: BatchNorm running statistics and counters move
        d(torch.randn(4, NC, 32, 32))
        g.eval()
        d.eval()
        z, x = torch.randn(2, NZ), torch.randn(2, NC, 32, 32)
        images, logits = g(z), d(x)
    save_safetensors(path("generator.torch.safetensors"), g.state_dict(), {"format": "pt"})
    save_safetensors(path("discriminator.torch.safetensors"), d.state_dict(), {"format": "pt"})
    save_safetensors(path("dcgan.torch_io.safetensors"), {"z": z, "x": x})
    subprocess.run([helper, "forward", workdir], check=True)
    got = load_safetensors(path("dcgan.ember_on_torch.safetensors"))
    ok &= compare("generator", "torch->ember", got["images"], images)
    ok &= compare("discrim.", "torch->ember", got["logits"], logits)
    print(f"DCGAN twin, {time.time() - start:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
