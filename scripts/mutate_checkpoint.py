#!/usr/bin/env python3
"""Corrupts copies of a tiny run's files (byte flips, truncations, JSON type swaps) and counts how many of the
commands run on them (eval, eval --batch, generate, train --resume) end in an unexpected exception (exit 70 or 134,
or a crash signal) or a hang, rather than a clean error (exit 1/2) or a result.

usage: mutate_checkpoint.py TRAINER_DLL RUN_FOLDER N [SEED]
"""
import json, os, random, shutil, struct, subprocess, sys, tempfile

dll, run, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
checkpoint = os.path.join(run, "checkpoint")
work = tempfile.mkdtemp(prefix="readers-mutate-")


def safetensors(tensors):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


vocab = json.load(open(os.path.join(checkpoint, "config.json")))["vocab_size"]
ids = [rng.randrange(vocab) for _ in range(2 * 16)]
batch = safetensors({"input_ids": ("I64", [2, 16], struct.pack("<32q", *ids)),
                     "attention_mask": ("I64", [2, 16], struct.pack("<32q", *([1] * 32)))})


def swap_json(text):
    doc = json.loads(text)
    nodes = []

    def walk(node, parent, key):
        if parent is not None: nodes.append((parent, key))
        if isinstance(node, dict):
            for k in list(node): walk(node[k], node, k)
        elif isinstance(node, list):
            for i in range(len(node)): walk(node[i], node, i)
    walk(doc, None, None)
    parent, key = rng.choice(nodes)
    choice = rng.randrange(9)
    if choice == 0 and isinstance(parent, dict): del parent[key]
    else: parent[key] = [None, "x", [], {}, -1, 0, 1e30, True, 2**40][choice]
    return json.dumps(doc).encode()


def mutate(data, is_json, header_end=None):
    kind = rng.choice(["flip", "truncate", "swap"] if is_json or header_end else ["flip", "truncate"])
    data = bytearray(data)
    if kind == "flip":
        limit = header_end if header_end and rng.random() < 0.7 else len(data)
        i = rng.randrange(limit); data[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        data = data[:rng.randrange(len(data))]
    elif is_json:
        data = bytearray(swap_json(bytes(data)))
    else:  # a safetensors header
        n = struct.unpack("<Q", data[:8])[0]
        header = swap_json(bytes(data[8:8 + n]))
        data = bytearray(struct.pack("<Q", len(header)) + header + bytes(data[8 + n:]))
    return bytes(data), kind


targets = ["config.json", "trainer_state.json", "model.safetensors", "tokenizer.json", "batch.safetensors", "optimizer.safetensors"]
unexpected, hangs, results = 0, 0, {}
for n in range(count):
    target = targets[n % len(targets)]
    folder = os.path.join(work, f"m{n}")
    shutil.copytree(run, folder)
    ck = os.path.join(folder, "checkpoint")
    source = batch if target == "batch.safetensors" else open(os.path.join(ck, target), "rb").read()
    header_end = 8 + struct.unpack("<Q", source[:8])[0] if target.endswith(".safetensors") else None
    mutated, kind = mutate(source, target.endswith(".json"), header_end)
    path = os.path.join(folder, "batch.safetensors") if target == "batch.safetensors" else os.path.join(ck, target)
    open(path, "wb").write(mutated)
    if target == "batch.safetensors": command = ["eval", "--model", folder, "--batch", path]
    elif target == "optimizer.safetensors": command = ["train", "--resume", folder, "--steps", "6"]
    else: command = rng.choice([["eval", "--model", folder, "--sample-tokens", "0"], ["generate", "--checkpoint", folder, "--max-tokens", "5"], ["train", "--resume", folder, "--steps", "6"]])
    try:
        p = subprocess.run(["dotnet", dll] + command, capture_output=True, text=True, timeout=300)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "hang"; hangs += 1
    bad = rc == "hang" or rc not in (0, 1, 2, 3)
    unexpected += bad
    last = (p.stderr.strip().splitlines() or [""])[-1][:160] if rc != "hang" else ""
    print(f"{n:3d} {target:22s} {kind:8s} {command[0]:8s} exit {rc} {'UNEXPECTED ' + last if bad else ''}", flush=True)
    shutil.rmtree(folder)
print(f"mutations {count}: unexpected exceptions (exit 70/134/signal) {unexpected - hangs}, hangs {hangs}")
