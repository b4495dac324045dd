"""Text -> vectors: the Encoder protocol, the PyTorch and ONNX encoders, named models, the encoder cache."""
