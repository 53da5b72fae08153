"""Training a network for one style: the frozen VGG19, the loss, the data, the LightningModule, ONNX export."""
