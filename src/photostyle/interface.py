"""The exported model's interface: what export.py writes and the runtime expects."""

INPUT_NAME = "image"  # float32 (N, H, W, 3) RGB in [0, 1]
OUTPUT_NAME = "stylized"  # the same layout; may leave [0, 1] a little, so clip it
