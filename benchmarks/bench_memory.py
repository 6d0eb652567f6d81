"""Benchmark: a frozen-encoder training step on CPU, with and without the two memory fixes.

Each setting runs in its own fresh process (malloc settings cannot be undone
in a process), with the same model, batch and thread count, alternating
rounds so that machine load affects all alike; the baseline is measured in
the same run:

- baseline: glibc's default malloc, the trunk under autograd (as before);
- keep freed memory: ``allocator.keep_freed_memory()`` (no mmap/munmap per batch);
- both: that, plus the frozen trunk run without autograd (what training does now).

Prints images/s, page faults per batch and each setting's speed-up over the
baseline. The model is the default encoder at the given input with
``head: resize`` and the encoder frozen: the first phase of the schedule.

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --input-size 224 --batch 32 --batches 4 --rounds 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

WORKER = r"""
import json, resource, sys, time, torch
settings = json.loads(sys.argv[1])
if settings["keep"]:
    from textile_defects.runtime.allocator import keep_freed_memory
    assert keep_freed_memory()
torch.set_num_threads(settings["threads"])
from textile_defects.models.config import ModelConfig
from textile_defects.models.network import build_model
config = ModelConfig(encoder=settings["encoder"], image_size=(settings["size"], settings["size"]), input_size=settings["size"],
                     head="resize", classifier="mlp", hidden_units=(256, 128), dropout=0.3, head_dropout=0.1, cosine_scale=16.0)
model = build_model(config, ["a", "b", "c", "d", "e"], settings["weights"])
model.freeze_encoder()
model.train()
if not settings["no_grad_trunk"]:
    type(model).trunk_trains = property(lambda self: True)  # the old behaviour: autograd through the frozen trunk
optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
images = torch.randint(0, 256, (settings["batch"], 3, settings["size"], settings["size"]), dtype=torch.uint8)
labels = torch.arange(settings["batch"]) % 5
def step():
    optimizer.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
step()  # warm-up: first-touch costs are not the steady state
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
start = time.perf_counter()
for _ in range(settings["batches"]):
    step()
seconds = time.perf_counter() - start
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(json.dumps({"images_per_s": settings["batches"] * settings["batch"] / seconds, "faults_per_batch": faults / settings["batches"]}))
"""

SETTINGS = {
    "baseline": {"keep": False, "no_grad_trunk": False},
    "keep freed memory": {"keep": True, "no_grad_trunk": False},
    "both (training now)": {"keep": True, "no_grad_trunk": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--weights", default="none", help="imagenet | none (speed does not depend on the values)")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, flags in SETTINGS.items():
            settings = {**flags, "encoder": args.encoder, "weights": args.weights, "size": args.input_size,
                        "batch": args.batch, "batches": args.batches, "threads": args.threads}  # fmt: skip
            output = subprocess.run([sys.executable, "-c", WORKER, json.dumps(settings)], capture_output=True, text=True, check=True)
            results[name].append(json.loads(output.stdout.strip().splitlines()[-1]))
    print(f"{args.encoder}, frozen, head resize, {args.input_size}x{args.input_size}, batch {args.batch}, "
          f"{args.threads} thread(s), median of {args.rounds} round(s) of {args.batches} batches")  # fmt: skip
    base = statistics.median(r["images_per_s"] for r in results["baseline"])
    for name, runs in results.items():
        rate = statistics.median(r["images_per_s"] for r in runs)
        faults = statistics.median(r["faults_per_batch"] for r in runs)
        print(f"{name:>22}: {rate:6.1f} images/s, {faults:9.0f} page faults/batch, {rate / base:4.2f}x baseline")


if __name__ == "__main__":
    main()
