#!/usr/bin/env python3
"""The PyTorch twin of ember's ConvLSTM next-frame model (models/convlstm.h), and the weights round trip.

The twin is the study's 2.2.1 reference (sladewinter, "Video frame prediction using ConvLSTM network in
PyTorch": ConvLSTMCell, ConvLSTM, Seq2Seq) without its peephole weights W_ci, W_cf, W_co, and with the output
conv applied to every step's hidden state (the article applies it to the last step only, which is output[:, :, -1]
here). Its state_dict keys are the article's.

    convlstm_twin.py CONVLSTM_TWIN WORKDIR

1. ember -> PyTorch: the helper exports weights (after a training-mode forward, so BatchNorm3d statistics are not
   trivial), an input sequence, its eval-mode output and the mean next-frame BCE; PyTorch loads the weights
   strictly (same keys, same order) and must reproduce the output and, with binary_cross_entropy_with_logits,
   the BCE.
2. PyTorch -> ember: PyTorch initialises its own model, saves weights, input and output; ember must reproduce it.
Both with tanh and relu cells. Tolerance |ember - torch| <= 1e-5 + 1e-5 |torch|. Exit 77 without torch.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import load_safetensors, save_safetensors, compare  # noqa: E402 (exits 77 without torch)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class ConvLSTMCell(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, padding, activation):
        super().__init__()
        self.activation = torch.tanh if activation == "tanh" else torch.relu
        self.conv = nn.Conv2d(in_channels + out_channels, 4 * out_channels, kernel_size, padding=padding)

    def forward(self, X, H_prev, C_prev):
        conv_output = self.conv(torch.cat([X, H_prev], dim=1))
        i_conv, f_conv, C_conv, o_conv = torch.chunk(conv_output, chunks=4, dim=1)
        input_gate = torch.sigmoid(i_conv)
        forget_gate = torch.sigmoid(f_conv)
        C = forget_gate * C_prev + input_gate * self.activation(C_conv)
        output_gate = torch.sigmoid(o_conv)
        H = output_gate * self.activation(C)
        return H, C


class ConvLSTM(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, padding, activation):
        super().__init__()
        self.out_channels = out_channels
        self.convLSTMcell = ConvLSTMCell(in_channels, out_channels, kernel_size, padding, activation)

    def forward(self, X):  # X [batch, channels, seq_len, height, width]
        batch_size, _, seq_len, height, width = X.size()
        output = torch.zeros(batch_size, self.out_channels, seq_len, height, width)
        H = torch.zeros(batch_size, self.out_channels, height, width)
        C = torch.zeros(batch_size, self.out_channels, height, width)
        for time_step in range(seq_len):
            H, C = self.convLSTMcell(X[:, :, time_step], H, C)
            output[:, :, time_step] = H
        return output


class Seq2Seq(nn.Module):
    def __init__(self, num_channels, num_kernels, kernel_size, padding, activation, num_layers):
        super().__init__()
        self.sequential = nn.Sequential()
        for l in range(1, num_layers + 1):
            self.sequential.add_module(f"convlstm{l}", ConvLSTM(num_channels if l == 1 else num_kernels, num_kernels,
                                                                kernel_size, padding, activation))
            self.sequential.add_module(f"batchnorm{l}", nn.BatchNorm3d(num_features=num_kernels))
        self.conv = nn.Conv2d(num_kernels, num_channels, kernel_size, padding=padding)

    def logits(self, X):  # step t predicts frame t + 1
        output = self.sequential(X)
        return torch.stack([self.conv(output[:, :, t]) for t in range(X.size(2))], dim=2)

    def forward(self, X):
        return torch.sigmoid(self.logits(X))


ACTIVATIONS = ["tanh", "relu"]


def build(act):
    return Seq2Seq(num_channels=1, num_kernels=4, kernel_size=3, padding=1, activation=act, num_layers=2)


def main():
    helper, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    torch.set_num_threads(2)
    start = time.time()
    all_ok = True

    subprocess.run([helper, "export", workdir], check=True)
    for act in ACTIVATIONS:
        base = os.path.join(workdir, "convlstm_" + act)
        model = build(act)
        weights = load_safetensors(base + ".ember.safetensors")
        assert list(weights) == list(model.state_dict()), f"{act}: ember's key order differs from PyTorch's"
        model.load_state_dict(weights, strict=True)
        model.eval()
        io = load_safetensors(base + ".ember_io.safetensors")
        x = io["input"]
        with torch.no_grad():
            all_ok &= compare("convlstm_" + act, "ember->torch", io["output"], model(x))
            bce = F.binary_cross_entropy_with_logits(model.logits(x[:, :, :-1]), x[:, :, 1:])
            all_ok &= compare("convlstm_" + act, "bce", io["bce"].reshape(()), bce)

    torch.manual_seed(0)
    for act in ACTIVATIONS:
        base = os.path.join(workdir, "convlstm_" + act)
        model = build(act)
        with torch.no_grad():
            for p in model.parameters():  # BatchNorm's constant weights and biases would hide swaps
                if p.numel() > 1 and p.std() == 0:
                    p.add_(0.1 * torch.randn_like(p))
            model.train()
            model(torch.rand(3, 1, 5, 12, 12))  # BatchNorm3d running statistics and counters move
            model.eval()
            x = torch.rand(2, 1, 6, 12, 12)
            output = model(x)
        save_safetensors(base + ".torch.safetensors", model.state_dict(), {"format": "pt"})
        save_safetensors(base + ".torch_io.safetensors", {"input": x, "output": output})
    subprocess.run([helper, "forward", workdir], check=True)
    for act in ACTIVATIONS:
        base = os.path.join(workdir, "convlstm_" + act)
        got = load_safetensors(base + ".ember_on_torch.safetensors")["output"]
        expected = load_safetensors(base + ".torch_io.safetensors")["output"]
        all_ok &= compare("convlstm_" + act, "torch->ember", got, expected)

    print(f"ConvLSTM twin, tanh and relu cells, {time.time() - start:.1f} s")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
