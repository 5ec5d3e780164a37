"""Inference engines: the model compiled for PyTorch (eager, TorchScript, torch.compile, bf16, CUDA graphs),
ONNX Runtime (fp32, TensorRT, int8) and ncnn, all checked against eager fp32 when built (``backends`` names
and races them); ``export`` writes and verifies the model files they run; ``probe`` makes the synthetic
frame pairs they are calibrated and checked on. Imports only the core."""
