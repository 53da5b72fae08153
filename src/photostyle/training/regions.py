"""Soft regions of a photo from VGG features, for a style loss that compares matching regions
(the sky of the output with the style photo's sky) instead of whole images.

The style photo's feature vectors are clustered once (spherical k-means); any photo's regions
are then its feature vectors' soft assignments to those clusters, so the regions of a content
photo and of the style photo correspond by what they look like, not by where they are.
"""

import torch
from torch.nn import functional as F

KMEANS_ITERATIONS = 20


def region_centres(features: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """(1, C, H, W) features -> (count, C) unit centres of `count` clusters of their directions.

    Seeded k-means++ starts, then spherical k-means, so a style photo always gets the same regions.
    """
    vectors = F.normalize(features[0].flatten(1).T, dim=1)  # (HW, C)
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(len(vectors), (1,), generator=generator)
    centres = vectors[first]  # (1, C)
    while len(centres) < count:
        distance = (1 - vectors @ centres.T).amin(dim=1).clamp_min(0)  # (HW,) to the nearest centre
        if distance.sum() == 0:  # fewer distinct directions than regions: repeat one
            distance = torch.ones_like(distance)
        chosen = torch.multinomial(distance.cpu(), 1, generator=generator).to(vectors.device)
        centres = torch.cat([centres, vectors[chosen]])
    for _ in range(KMEANS_ITERATIONS):
        nearest = (vectors @ centres.T).argmax(dim=1)  # (HW,)
        sums = torch.zeros_like(centres).index_add_(0, nearest, vectors)  # (count, C)
        # A centre that lost all its vectors stays where it was.
        centres = torch.where(sums.norm(dim=1, keepdim=True) > 0, F.normalize(sums, dim=1), centres)
    return centres


def soft_regions(features: torch.Tensor, centres: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, C, H, W) features and (K, C) centres -> (B, K, H, W) region weights summing to 1 at
    each position: a softmax over the cosine similarities to the centres at `temperature`."""
    similarity = torch.einsum("bchw,kc->bkhw", F.normalize(features, dim=1), centres)
    return (similarity / temperature).softmax(dim=1)
