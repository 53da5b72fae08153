"""CIELAB and CIEDE2000 colour differences in NumPy, for layers that never import torch.

Colours are float arrays (..., 3): sRGB in [0, 1], CIELAB (D65) with L in [0, 100].
"""

import numpy as np

# Linear sRGB -> CIE XYZ under D65 (IEC 61966-2-1), and D65's white point; colour.py uses the same.
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_DELTA = 6 / 29


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((np.maximum(rgb, 0) + 0.055) / 1.055) ** 2.4)
    xyz = linear @ SRGB_TO_XYZ.T / D65_WHITE
    f = np.where(xyz > _DELTA**3, np.cbrt(xyz), xyz / (3 * _DELTA**2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1), as in Sharma, Wu and Dalal (2005)."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    # a* is stretched for near-neutral colours, where hue differences are seen more easily.
    mean_chroma7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    stretch = 1.5 - 0.5 * np.sqrt(mean_chroma7 / (mean_chroma7 + 25.0**7))
    a1, a2 = a1 * stretch, a2 * stretch
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    neutral = c1 * c2 == 0  # a hue is undefined: no hue difference, and the mean hue is the sum
    hue_step = h2 - h1
    hue_step = np.where(hue_step > 180, hue_step - 360, np.where(hue_step < -180, hue_step + 360, hue_step))
    hue_step = np.where(neutral, 0.0, hue_step)
    mean_hue = (h1 + h2) / 2 + np.where(np.abs(h1 - h2) > 180, np.where(h1 + h2 < 360, 180.0, -180.0), 0.0)
    mean_hue = np.where(neutral, h1 + h2, mean_hue)

    delta_l, delta_c = l2 - l1, c2 - c1
    delta_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(hue_step / 2))
    mean_l, mean_c = (l1 + l2) / 2, (c1 + c2) / 2
    t = (
        1
        - 0.17 * np.cos(np.radians(mean_hue - 30))
        + 0.24 * np.cos(np.radians(2 * mean_hue))
        + 0.32 * np.cos(np.radians(3 * mean_hue + 6))
        - 0.20 * np.cos(np.radians(4 * mean_hue - 63))
    )
    s_l = 1 + 0.015 * (mean_l - 50) ** 2 / np.sqrt(20 + (mean_l - 50) ** 2)
    s_c = 1 + 0.045 * mean_c
    s_h = 1 + 0.015 * mean_c * t
    # Blues: hue and chroma differences interact (the rotation term).
    rotation = (
        -np.sin(np.radians(60 * np.exp(-(((mean_hue - 275) / 25) ** 2))))
        * 2
        * np.sqrt(mean_c**7 / (mean_c**7 + 25.0**7))
    )
    terms_l, terms_c, terms_h = delta_l / s_l, delta_c / s_c, delta_h / s_h
    return np.sqrt(terms_l**2 + terms_c**2 + terms_h**2 + rotation * terms_c * terms_h)


def srgb_difference(rgb1: np.ndarray, rgb2: np.ndarray) -> np.ndarray:
    """CIEDE2000 between sRGB colours in [0, 1], (..., 3) -> (...)."""
    return ciede2000(srgb_to_lab(rgb1), srgb_to_lab(rgb2))
