import pytest
import torch
from torch import nn

from photostyle.networks.residual import ResidualNet


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (3, 3), (37, 51), (64, 64), (65, 130)])
def test_any_size_gives_same_size_in_unit_range(size):
    torch.manual_seed(0)
    net = ResidualNet(base_channels=4, num_residual_blocks=1, global_skip=False).eval()
    with torch.no_grad():
        output = net(torch.rand(2, 3, *size))
    assert output.shape == (2, 3, *size)
    assert output.min() >= 0 and output.max() <= 1 and torch.isfinite(output).all()


def test_untrained_network_with_global_skip_is_the_identity():
    image = torch.rand(1, 3, 33, 47)
    with torch.no_grad():
        output = ResidualNet(base_channels=4, num_residual_blocks=1).eval()(image)
    # Only the logit clamp at 1e-3 separates it from the input.
    assert (output - image).abs().max() < 2e-3


def test_decoder_has_no_transposed_convolutions_and_no_checkerboard():
    # A strided transposed convolution paints a periodic pattern over a flat input; nearest
    # upsampling + convolution (with reflection / replicate padding) keeps it flat.
    torch.manual_seed(0)
    net = ResidualNet(base_channels=8, num_residual_blocks=2, global_skip=False).eval()
    for module in net.modules():
        assert not isinstance(module, nn.ConvTranspose2d)
    for p in net.parameters():
        p.data.normal_(0, 0.3)
    with torch.no_grad():
        output = net(torch.full((1, 3, 40, 56), 0.4))
    assert output.std(dim=(2, 3)).max() < 1e-5


def test_uses_reflection_padding_and_instance_norm():
    net = ResidualNet(base_channels=4, num_residual_blocks=2)
    kinds = {type(m) for m in net.modules()}
    assert nn.ReflectionPad2d in kinds and nn.InstanceNorm2d in kinds
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in net.modules()) == 2 + 2 * 2 + 2 + 1


def test_output_depends_on_content_not_on_batch_neighbours():
    torch.manual_seed(0)
    net = ResidualNet(base_channels=4, num_residual_blocks=1, global_skip=False).eval()
    a, b = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        together = net(torch.cat([a, b]))
        alone = net(a)
    torch.testing.assert_close(together[:1], alone)
