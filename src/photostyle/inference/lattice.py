"""3D colour lattices (3D LUTs): trilinear interpolation, and reading and writing .cube files.

A lattice is a float array (S, S, S, 3) indexed [blue, green, red]: node (b, g, r) holds the
output colour for the input (r, g, b) / (S - 1). Flattened in C order, red changes fastest,
which is the order of the rows of a .cube file (Adobe's Cube LUT specification 1.0, as
Resolve, Premiere, Final Cut, Photoshop, OBS and ffmpeg's lut3d read it).
"""

from pathlib import Path

import numpy as np

from photostyle.errors import PhotostyleError
from photostyle.files import atomic_write

# The 8 corners of a lattice cell as (red, green, blue) steps.
CORNERS = np.array([[r, g, b] for b in (0, 1) for g in (0, 1) for r in (0, 1)])
_DOMAIN = {"DOMAIN_MIN": 0.0, "DOMAIN_MAX": 1.0}  # the only domain written and read
_CHUNK = 1 << 18  # colours interpolated at a time, which bounds apply_lattice's temporary memory


def identity_lattice(size: int) -> np.ndarray:
    """(S, S, S, 3): every colour maps to itself."""
    levels = np.linspace(0.0, 1.0, size)
    blue, green, red = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([red, green, blue], axis=-1)


def trilinear_corners(colours: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Colours (N, 3) in [0, 1] -> the flat indices (N, 8) of their cells' corners in a
    lattice of `size`, and the trilinear weight (N, 8) of each (they sum to 1)."""
    position = np.clip(colours, 0.0, 1.0) * (size - 1)  # (N, 3) in lattice steps
    low = np.minimum(position.astype(np.int64), size - 2)  # the cell; a colour of 1.0 is in the last one
    fraction = position - low
    # Per axis, the cell's two sides: their indices (N, 2) and weights (N, 2), combined as
    # (N, blue, green, red) in CORNERS' order.
    (red, green, blue), steps = low.T[:, :, None] + [0, 1], fraction.T[:, :, None]
    indices = (blue[:, :, None, None] * size + green[:, None, :, None]) * size + red[:, None, None, :]
    side_weights = np.concatenate([1.0 - steps, steps], axis=2)  # (3, N, 2)
    weights = side_weights[2][:, :, None, None] * side_weights[1][:, None, :, None] * side_weights[0][:, None, None, :]
    return indices.reshape(-1, 8), weights.reshape(-1, 8)


def apply_lattice(lattice: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Colours (..., 3) in [0, 1] through the lattice by trilinear interpolation -> (..., 3) float64."""
    nodes = lattice.reshape(-1, 3)  # (S^3, 3)
    colours = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    out = np.empty_like(colours)
    for start in range(0, len(colours), _CHUNK):
        indices, weights = trilinear_corners(colours[start : start + _CHUNK], lattice.shape[0])
        out[start : start + _CHUNK] = np.einsum("nk,nkc->nc", weights, nodes[indices])
    return out.reshape(np.shape(rgb))


def write_cube(path: Path, lattice: np.ndarray, title: str) -> None:
    """Write a .cube file atomically: the header, then S^3 rows "r g b", red changing fastest."""
    size, title = lattice.shape[0], title.replace('"', "'")  # the title is quoted
    header = f'TITLE "{title}"\nLUT_3D_SIZE {size}\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n'
    with atomic_write(path) as stream:
        stream.write(header.encode())
        np.savetxt(stream, lattice.reshape(-1, 3), fmt="%.6f")


def read_cube(path: Path) -> np.ndarray:
    """A 3D .cube file on the domain 0..1 -> its lattice (S, S, S, 3)."""
    size, rows = None, []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#") or words[0] == "TITLE":
            continue
        if words[0] == "LUT_3D_SIZE":
            size = int(words[1])
        elif words[0] in _DOMAIN:
            if [float(w) for w in words[1:]] != [_DOMAIN[words[0]]] * 3:
                raise PhotostyleError(f"{path}:{number}: only the domain 0..1 is supported, not {line.strip()}")
        elif words[0][0].isalpha():
            raise PhotostyleError(f"{path}:{number}: {words[0]} is not supported; only 3D LUTs are")
        else:
            rows.append([float(w) for w in words])
    if size is None or len(rows) != size**3:
        raise PhotostyleError(f"{path}: expected LUT_3D_SIZE and size^3 rows of r g b, found {len(rows)} rows")
    return np.array(rows).reshape(size, size, size, 3)
