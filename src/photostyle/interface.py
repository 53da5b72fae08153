"""The exported model's interface: what export.py writes and the runtime expects.

Every model takes IMAGE and gives STYLIZED. A bilateral model also takes ROWS, PREVIOUS_LOOK and
KEEP and gives LOOK (its look: everything it computes from the whole photo), so that a video
can carry the look from frame to frame and a big photo can be stylized band by band. For a
single photo: ROWS = all of them (numpy.arange(H)), PREVIOUS_LOOK = zeros, KEEP = 0.
"""

IMAGE = "image"  # (N, H, W, 3) RGB: uint8, or float32 in [0, 1] (export.py pixels=float32)
ROWS = "rows"  # (h,) int64: the rows of IMAGE to stylize
PREVIOUS_LOOK = "previous_look"  # (N, Gh, Gw, D, 4, 3) float32: a look to blend with IMAGE's own
KEEP = "keep"  # () float32 in [0, 1]: the look used is own + KEEP * (PREVIOUS_LOOK - own)
STYLIZED = "stylized"  # (N, h, W, 3), IMAGE's type; float32 may leave [0, 1] a little, so clip it
LOOK = "look"  # (N, Gh, Gw, D, 4, 3) float32: the look used

PIXEL_TYPES = {"uint8": "tensor(uint8)", "float32": "tensor(float)"}
# The model's metadata entry that marks it as photostyle's (its value: the version that exported it).
VERSION_KEY = "photostyle_version"
