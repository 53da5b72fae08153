"""Stylizing with an exported model: onnxruntime, numpy and Pillow only; nothing here imports torch."""
