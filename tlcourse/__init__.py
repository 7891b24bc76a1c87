"""tlcourse: the helper package of a Jupyter course on transfer learning with TensorFlow/Keras.

Importing it is cheap and has no side effects (TensorFlow is imported only by the functions
that need it). Every lesson starts with ``tlcourse.setup()``.

Modules, by purpose:
    config     settings from the environment, ``setup()``, ``pick(quick, full)``
    assets     registry of remote files, checksummed fetch, cache, mirror, offline fallback
    data       MNIST, scikit-learn digits, Rotten Tomatoes, bundled photos
    text       pretrained BERT-family encoders (keras-hub), online and offline
    models     pretrained ImageNet networks (Keras applications, offline ports)
    layers     layer tables and parameter counts
    plot       histories, image grids, top-k bars, confusion matrices, embeddings
    exercises  the self-check every exercise is built on
    checks     one module of exercise checks per lesson (lesson01 to lesson07, lesson00 has none)
    install    what a runtime lacks (the Colab cell) and the offline stand-ins, installed with pip
    imagefolders  class folders of images: the solar cells of lesson 07, and a folder check
    course     the lesson list, badges and the Colab cell
    experiments  lesson 01's saved label-budget experiment: labelled draws, probes, curves
    freezing   MobileNetV2 blocks, block table and lesson 02's saved freeze loop
    features   cached feature extraction and lesson 03's saved training loop
    vision     OpenCV input and lesson 04's saved Grad-CAM
    sentiment  token ids, prediction, safe-mode save, cached embeddings; lesson 05's saved recipe
    domain     MNIST-M-style target, CORAL, gradient reversal and DANN (lesson 06)
    efficientnet_lite, torchfile  the EfficientNet-Lite0 port and its torch-free weight reader
"""

from .config import network_mode, pick, quick_mode, setup

__version__ = "0.1.0"
__all__ = ["setup", "pick", "quick_mode", "network_mode", "__version__"]
