"""The topology engine in your own training: ToMCLIP's loss on a student and precomputed teacher features.

    pip install /path/to/tomclip        # the engine: torch, numpy, numba, nothing else
    python examples/engine_in_a_training_loop.py

Two ways in, both with the teacher's features computed once beforehand (for ToMCLIP: the frozen
English CLIP text encoder on the English captions): a plain PyTorch loop, and the loss step of a
Hugging Face / open_clip style model that returns token states; and one step under torch.autocast
(mixed precision: the loss takes bfloat16 or float16 outputs and computes in float32). Random tensors
stand in for the data here, so the script runs anywhere in seconds.
"""

import torch
import torch.nn.functional as F

from tomclip_lib.topology import PAPER_VARIANTS, AlignmentLoss

torch.manual_seed(0)
pairs, feature_dim, input_dim = 1024, 64, 32
teacher_features = F.normalize(torch.randn(pairs, feature_dim), dim=1)  # precomputed, frozen
student_inputs = teacher_features @ torch.randn(feature_dim, input_dim) + 0.1 * torch.randn(pairs, input_dim)

# L_pw + 0.01 L_dm + 0.01 L_ta, sparsification s = 0.5: the paper's ToMCLIP.
loss_fn = AlignmentLoss(**PAPER_VARIANTS["ToMCLIP"])


def plain_loop(epochs: int = 2, batch_size: int = 256) -> list[float]:
    """A student head trained with AdamW; returns each step's total loss."""
    student = torch.nn.Sequential(torch.nn.Linear(input_dim, 128), torch.nn.GELU(), torch.nn.Linear(128, feature_dim))
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-3)
    losses = []
    for epoch in range(epochs):
        for rows in torch.randperm(pairs, generator=torch.Generator().manual_seed(epoch)).split(batch_size):
            total, _ = loss_fn(student(student_inputs[rows]), teacher_features[rows])  # _: each term, unweighted
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            losses.append(total.item())
    return losses


def mixed_precision_step(batch_size: int = 256) -> float:
    """One step under torch.autocast (CPU, bfloat16; on a GPU device_type="cuda", often float16): the
    head's output is bfloat16, the loss computes its distances in float32 (autocast is off inside it)
    and hands the gradient back in bfloat16. Returns the step's total loss."""
    student = torch.nn.Sequential(torch.nn.Linear(input_dim, 128), torch.nn.GELU(), torch.nn.Linear(128, feature_dim))
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, _ = loss_fn(student(student_inputs[:batch_size]), teacher_features[:batch_size])
    optimizer.zero_grad()
    total.backward()  # outside the autocast region, as PyTorch recommends
    optimizer.step()
    return total.item()


def hugging_face_style_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The loss of a `Trainer.compute_loss` or a Lightning `training_step`: mean-pool the encoder's
    token states over the attention mask (M-CLIP's student), then align with the batch's teacher
    features. `model(input_ids=..., attention_mask=...)` returns an object with `last_hidden_state`,
    as a `transformers` encoder does; the projection to the teacher's width is `model.projection`."""
    states = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
    total, _ = loss_fn(model.projection(pooled), batch["teacher_features"])
    return total


class TinyEncoder(torch.nn.Module):
    """A stand-in for a Hugging Face text encoder (embedding + one transformer layer)."""

    def __init__(self, vocabulary: int = 100, width: int = 32):
        super().__init__()
        self.embed = torch.nn.Embedding(vocabulary, width)
        self.layer = torch.nn.TransformerEncoderLayer(width, nhead=2, dim_feedforward=64, batch_first=True)
        self.projection = torch.nn.Linear(width, feature_dim)

    def forward(self, input_ids, attention_mask):
        states = self.layer(self.embed(input_ids), src_key_padding_mask=attention_mask == 0)
        return type("EncoderOutput", (), {"last_hidden_state": states})()


if __name__ == "__main__":
    losses = plain_loop()
    print(f"plain loop: {len(losses)} steps, loss {losses[0]:.5f} -> {losses[-1]:.5f}")
    encoder = TinyEncoder().eval()  # eval: no dropout, so the value below is reproducible
    batch = {
        "input_ids": torch.randint(0, 100, (256, 12)),
        "attention_mask": torch.ones(256, 12, dtype=torch.long),
        "teacher_features": teacher_features[:256],
    }
    batch["attention_mask"][:, 8:] = 0  # padding after 8 tokens
    loss = hugging_face_style_loss(encoder, batch)
    loss.backward()
    gradient = float(sum(p.grad.square().sum() for p in encoder.parameters() if p.grad is not None).sqrt())
    print(f"hugging-face style step: loss {loss.item():.6f}, gradient norm {gradient:.6f}")
    print(f"mixed-precision step (bfloat16 autocast): loss {mixed_precision_step():.5f}")
