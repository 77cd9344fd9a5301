#!/usr/bin/env python3
"""The study's CNN tables, ember beside PyTorch, over several seeds (issue #17 part 2, docs/fidelity.md).

    # PyTorch: the twin CNN (torch_models.py) with the study's recipe, one run per config file
    study_cnn_tables.py torch configs/cnn_tables/*.yaml --data_dir ../shared/data/cifar-10-batches-bin --out DIR
    # ember: the same config files
    ember sweep --configs configs/cnn_tables/*.yaml --data_dir ../shared/data/cifar-10-batches-bin --out_dir DIR
    # the table: mean and sd over seeds of the best validation accuracy and of the epoch of least validation loss
    study_cnn_tables.py report --ember DIR --torch DIR [--markdown FILE]

The recipe is the study's script's (cifar_10_train_rev_2.py): CIFAR-10's 50,000 training images, val_size % of
them held out by a seeded random split, Adam, cross-entropy, normalization "No" (pixels / 255) or "aug" (a random
horizontal flip and a random 32 x 32 crop of the image padded by 4 zeros, on the training images only). --subset N
and --epochs E shorten a run to try the commands.
"""
import argparse
import csv
import glob
import math
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def read_cifar10_train(data_dir):
    import torch
    records = []
    for i in range(1, 6):
        path = os.path.join(data_dir, f"data_batch_{i}.bin")
        raw = open(path, "rb").read()
        assert len(raw) % 3073 == 0, f"{path}: {len(raw)} bytes is not whole 3073-byte records"
        records.append(torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, 3073))
    data = torch.cat(records)
    return data[:, 1:].reshape(-1, 3, 32, 32).float() / 255.0, data[:, 0].long()


def augment(images, gen):
    """RandomHorizontalFlip(p=0.5) then RandomCrop(32, padding=4), each image drawn on its own."""
    import torch
    import torch.nn.functional as F
    n = images.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    padded = F.pad(images, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
    return torch.stack([padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32] for i in range(n)])


def train_torch(config, data_dir, out_dir, subset, epochs):
    import torch
    import torch.nn.functional as F
    import torch_models as tm
    assert config["model"] == "CNN" and config["optimization"] == "Adam", "the CNN with Adam only"
    assert config["normalization"] in ("No", "aug"), f"normalization {config['normalization']}: No or aug only"
    seed = int(config.get("seed", 0))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    images, labels = read_cifar10_train(data_dir)
    if subset:
        images, labels = images[:subset], labels[:subset]
    order = torch.randperm(len(labels), generator=gen)
    n_val = int(round(len(labels) * config["val_size"] / 100.0))
    val_idx, train_idx = order[:n_val], order[n_val:]
    model = tm.Cifar10CnnModel()
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    batch = int(config["batch_size"])
    folder = os.path.join(out_dir, config["experiment_name"])
    os.makedirs(folder, exist_ok=True)
    rows = []
    for epoch in range(epochs or int(config["epochs"])):
        model.train()
        perm = train_idx[torch.randperm(len(train_idx), generator=gen)]
        loss_sum = 0.0
        for b in range(0, len(perm), batch):
            idx = perm[b:b + batch]
            x = images[idx]
            if config["normalization"] == "aug":
                x = augment(x, gen)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val_loss, correct = 0.0, 0
            for b in range(0, n_val, 256):
                idx = val_idx[b:b + 256]
                logits = model(images[idx])
                val_loss += F.cross_entropy(logits, labels[idx], reduction="sum").item()
                correct += (logits.argmax(1) == labels[idx]).sum().item()
        rows.append({"epoch": epoch, "train_loss": loss_sum / len(train_idx), "val_loss": val_loss / n_val,
                     "val_acc": correct / n_val})
        print(f"{config['experiment_name']} epoch {epoch}: train_loss {rows[-1]['train_loss']:.4f} "
              f"val_loss {rows[-1]['val_loss']:.4f} val_acc {rows[-1]['val_acc']:.4f}", flush=True)
        with open(os.path.join(folder, "metrics.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


def runs(folder_glob):
    """{experiment name: [(epoch, val_loss, val_acc), ...]} from the metrics.csv files under the globbed folders."""
    out = {}
    for metrics in sorted(glob.glob(os.path.join(folder_glob, "metrics.csv"))):
        name = os.path.basename(os.path.dirname(metrics))
        name = re.sub(r"_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d(_\d+)?$", "", name)  # ember's results folder suffix
        with open(metrics) as f:
            out[name] = [(int(r["epoch"]), float(r["val_loss"]), float(r["val_acc"])) for r in csv.DictReader(f)]
    return out


def summary(by_name):
    """{experiment without _seedN: (best val_acc list, epoch of min val_loss list)}."""
    groups = {}
    for name, rows in by_name.items():
        group = re.sub(r"_seed\d+$", "", name)
        best = max(acc for _, _, acc in rows)
        least = min(rows, key=lambda r: r[1])[0]
        groups.setdefault(group, ([], []))
        groups[group][0].append(best)
        groups[group][1].append(least)
    return groups


def mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.4f} ± {sd:.4f}" if not math.isnan(sd) else f"{values[0]:.4f}"


def report(ember_dir, torch_dir, markdown):
    study = {"CNN_No": "0.74 @ epoch 6", "CNN_aug": "0.83 @ epoch 26"}
    ember = summary(runs(os.path.join(ember_dir, "*")))
    torch_ = summary(runs(os.path.join(torch_dir, "*")))
    lines = ["| experiment | engine | seeds | best val acc (mean ± sd) | epoch of least val loss | study (1 run) |",
             "|---|---|---:|---|---|---|"]
    for group in sorted(set(ember) | set(torch_)):
        for engine, table in (("PyTorch", torch_), ("ember", ember)):
            if group not in table:
                continue
            accs, epochs = table[group]
            lines.append(f"| {group} | {engine} | {len(accs)} | {mean_sd(accs)} | "
                         f"{', '.join(map(str, epochs))} | {study.get(group, '-')} |")
        if group in ember and group in torch_:
            gap = statistics.mean(ember[group][0]) - statistics.mean(torch_[group][0])
            sd = statistics.stdev(torch_[group][0]) if len(torch_[group][0]) > 1 else 0.0
            verdict = "within" if abs(gap) <= max(sd, 0.005) else "OUTSIDE"
            lines.append(f"| {group} | ember - PyTorch | | {gap:+.4f} ({verdict} max(PyTorch sd, 0.5 pt)) | | |")
    text = "\n".join(lines) + "\n"
    print(text)
    if markdown:
        with open(markdown, "w") as f:
            f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("torch", help="train the PyTorch twin on each config")
    t.add_argument("configs", nargs="+")
    t.add_argument("--data_dir", default=os.path.join(HERE, "..", "..", "..", "shared", "data",
                                                      "cifar-10-batches-bin"))
    t.add_argument("--out", required=True)
    t.add_argument("--subset", type=int, default=0)
    t.add_argument("--epochs", type=int, default=0)
    r = sub.add_parser("report", help="the table from both engines' runs")
    r.add_argument("--ember", required=True)
    r.add_argument("--torch", required=True)
    r.add_argument("--markdown")
    a = p.parse_args()
    if a.command == "torch":
        import yaml
        for path in a.configs:
            train_torch(yaml.safe_load(open(path)), a.data_dir, a.out, a.subset, a.epochs)
    else:
        report(a.ember, a.torch, a.markdown)


if __name__ == "__main__":
    main()
