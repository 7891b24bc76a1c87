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
    exercises  self-checks of the exercises
"""

from .config import network_mode, pick, quick_mode, setup

__version__ = "0.1.0"
__all__ = ["setup", "pick", "quick_mode", "network_mode", "__version__"]
