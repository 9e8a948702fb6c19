"""App 11, a torch model on the CPU: at start-up a convolutional network of about 2.6 million
parameters is built and its weights loaded from a file (made once, like a downloaded
checkpoint), switched to evaluation mode; then it answers one inference on a fixed input."""

import os
import tempfile

import torch
from torch import nn

WEIGHTS = os.path.join(tempfile.gettempdir(), "amber-bench-torch-cnn.pt")


def build() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
        nn.Flatten(), nn.Linear(256 * 16, 512), nn.ReLU(), nn.Linear(512, 10))


if not os.path.exists(WEIGHTS):  # made once; later starts (cold ones too) load it
    torch.manual_seed(0)
    tmp = f"{WEIGHTS}.{os.getpid()}"
    torch.save(build().state_dict(), tmp)
    os.replace(tmp, WEIGHTS)
MODEL = build()
MODEL.load_state_dict(torch.load(WEIGHTS, weights_only=True))
MODEL.eval()
torch.set_num_threads(1)  # the figures should not depend on how busy the other cores are
INPUT = torch.linspace(-1.0, 1.0, 3 * 32 * 32).reshape(1, 3, 32, 32)


def main() -> None:
    with torch.no_grad():
        out = MODEL(INPUT)
    params = sum(p.numel() for p in MODEL.parameters())
    print(params, out.argmax().item(), round(float(out.sum()), 4), flush=True)


if __name__ == "__main__":
    main()
