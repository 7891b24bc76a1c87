"""tlcourse: the helper package of a Jupyter course on transfer learning with TensorFlow/Keras.

Importing it is cheap and has no side effects (TensorFlow is imported only by the functions
that need it). Every lesson starts with ``tlcourse.setup()``.

Modules, by purpose:
    config     settings from the environment, ``setup()``, ``pick(quick, full)``
    assets     registry of remote files, checksummed fetch, cache, mirror, offline fallback
    data       MNIST, scikit-learn digits, Rotten Tomatoes, bundled photos
    text       pretrained BERT-family encoders (keras-hub), online and offline
    models     pretrained ImageNet networks (Keras applications, offline ports)
    layers     layer tables, parameter counts, freezing
    plot       histories, image grids, top-k bars, confusion matrices, embeddings
    exercises  the self-check every exercise is built on
    checks     one module of exercise checks per lesson (lesson01 to lesson07, lesson00 has none)
    install    what a runtime lacks (the Colab cell) and the offline stand-ins, installed with pip
    imagefolders  class folders of images: the solar cells of lesson 07, and a folder check
    course     the lesson list, badges and the Colab cell
    experiments  drawing labelled rows, label-budget curves, the four freeze-or-train cases (lesson 01)
    freezing   MobileNetV2 blocks, freeze_report and the freeze explorer (lesson 02)
    features   cached feature extraction, clean cuts, and lesson 03's saved training loop
    vision     OpenCV input, Grad-CAM, predict-your-own-image (lesson 04)
    sentiment  token ids, prediction, safe-mode save, cached embeddings; lesson 05's saved recipe
    domain     MNIST-M-style target, CORAL, gradient reversal and DANN (lesson 06)
    efficientnet_lite, torchfile  the EfficientNet-Lite0 port and its torch-free weight reader
"""

from .config import network_mode, pick, quick_mode, setup

__version__ = "0.1.0"
__all__ = ["setup", "pick", "quick_mode", "network_mode", "__version__"]
