"""Johnson et al.'s feed-forward transformer network, tuned for photographs."""

import torch
from torch import nn
from torch.nn import functional as F

from photostyle.errors import PhotostyleError

# The encoder halves the size twice, and the 9x9 reflection pad needs more than 4 pixels
# at full resolution and 2 at quarter resolution: pad every side by this much first.
_SIZE_PAD = 4


class ConvLayer(nn.Sequential):
    """Reflection pad, convolution, optional instance norm and ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, norm: bool = True, relu: bool = True):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride)]
        if norm:
            layers.append(nn.InstanceNorm2d(c_out, affine=True))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(ConvLayer(channels, channels, 3), ConvLayer(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour upsampling then convolution: no transposed conv, so no checkerboard."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, 3)

    def forward(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class ResidualNet(nn.Module):
    """RGB (B, 3, H, W) in [0, 1] to a stylized RGB image of the same size in [0, 1].

    With `global_skip` the decoder predicts a change of the input in logit space, so an
    untrained network is the identity and training only has to learn the look.
    """

    def __init__(self, base_channels: int = 32, num_residual_blocks: int = 5, global_skip: bool = True):
        super().__init__()
        if base_channels < 1 or num_residual_blocks < 0:
            raise PhotostyleError(
                f"model.base_channels={base_channels} must be >= 1 and model.num_residual_blocks={num_residual_blocks}"
                " >= 0"
            )
        c = base_channels
        self.global_skip = global_skip
        self.down1 = ConvLayer(3, c, 9)
        self.down2 = ConvLayer(c, 2 * c, 3, stride=2)
        self.down3 = ConvLayer(2 * c, 4 * c, 3, stride=2)
        self.residuals = nn.Sequential(*[ResidualBlock(4 * c) for _ in range(num_residual_blocks)])
        self.up1 = UpsampleConv(4 * c, 2 * c)
        self.up2 = UpsampleConv(2 * c, c)
        self.to_rgb = ConvLayer(c, 3, 9, norm=False, relu=False)
        if global_skip:
            # Start exactly at the identity: the last layer's output is added to the input's logit.
            nn.init.zeros_(self.to_rgb[1].weight)
            nn.init.zeros_(self.to_rgb[1].bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        # Replicate (not reflect) so that even a 1x1 image can be padded; the extra
        # (-size) % 4 makes both stride-2 steps exact.
        padded = F.pad(image, (_SIZE_PAD, _SIZE_PAD + (-w) % 4, _SIZE_PAD, _SIZE_PAD + (-h) % 4), mode="replicate")
        full = self.down1(padded)
        half = self.down2(full)
        quarter = self.residuals(self.down3(half))
        y = self.to_rgb(self.up2(self.up1(quarter, half.shape[-2:]), full.shape[-2:]))
        y = y[..., _SIZE_PAD : _SIZE_PAD + h, _SIZE_PAD : _SIZE_PAD + w]
        if self.global_skip:
            return torch.sigmoid(torch.logit(image.clamp(0, 1), eps=1e-3) + y)
        return torch.sigmoid(y)
