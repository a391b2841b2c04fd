"""The PyTorch peer of `trainer bench --device cpu`: one GPT-2 training step on the CPU (PyTorch 1.13, fp32).

scripts/cpu-peer.sh runs it beside the engine (the team's peer from shared/cpu/peers, kept here so a clone has it).

Same shapes as the C# engine's presets: learned position embeddings, pre-LN blocks, tanh GELU, 4x MLP, biases on
every linear and LayerNorm, tied embedding/head, dropout 0. AdamW(lr 3e-4, wd 0.1 on matrices and embeddings,
foreach=True), global grad-norm clip 1.0, random tokens. Prints the median ms/step over the timed steps.

usage: /usr/bin/python3 scripts/peers/torch_gpt2_cpu_step.py {tiny|small} [--threads 2] [--batch B] [--seq T] [--steps N] [--warmup W]
"""
import argparse, math, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # layers, dim, heads, vocab, positions (the engine's gpt2-tiny has a 256-long position table)
    "tiny": dict(layers=4, dim=128, heads=4, vocab=257, positions=256),
    "small": dict(layers=12, dim=768, heads=12, vocab=50257, positions=1024),
}


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim, eps=1e-5)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.fc = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def attention(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        hd = C // self.heads
        q = q.view(B, T, self.heads, hd).transpose(1, 2)
        k = k.view(B, T, self.heads, hd).transpose(1, 2)
        v = v.view(B, T, self.heads, hd).transpose(1, 2)
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # 1.13: the usual masked softmax
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(mask[:T, :T], float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x, mask):
        x = x + self.attention(self.ln1(x), mask)
        return x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, layers, dim, heads, vocab, positions):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(positions, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim, eps=1e-5)
        self.register_buffer("mask", torch.triu(torch.ones(positions, positions, dtype=torch.bool), diagonal=1), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x, self.mask)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied head
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("preset", choices=PRESETS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--warmup", type=int)
    a = ap.parse_args()
    small = a.preset == "small"
    B = a.batch or (4 if small else 16)
    steps = a.steps or (3 if small else 10)
    warmup = a.warmup if a.warmup is not None else (1 if small else 2)
    T = a.seq
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    cfg = PRESETS[a.preset]
    model = GPT2(**cfg)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    V = cfg["vocab"]
    g = torch.Generator().manual_seed(0)
    flops_per_token = 6 * n_params + 12 * cfg["layers"] * T * cfg["dim"]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, blas {torch.__config__.show().split('BLAS_INFO=')[1].split(',')[0]}, "
          f"sdpa {hasattr(F, 'scaled_dot_product_attention')}")
    print(f"gpt2-{a.preset}: {n_params} parameters ({n_params / 1e6:.2f}M), batch {B} x {T}, {warmup} warm-up + {steps} timed steps")
    times = []
    for i in range(warmup + steps):
        idx = torch.randint(0, V, (B, T), generator=g)
        tgt = torch.randint(0, V, (B, T), generator=g)
        t0 = time.perf_counter()
        loss = model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
        print(f"step {i}: loss {loss.item():.4f}, {dt * 1e3:.1f} ms{'' if i >= warmup else ' (warm-up)'}", flush=True)
    med = statistics.median(times)
    print(f"median {med * 1e3:.1f} ms/step, {B * T / med:.0f} tokens/s, {B * T * flops_per_token / med / 1e9:.1f} GFLOP/s "
          f"(model FLOPs/token {flops_per_token})")


if __name__ == "__main__":
    main()
