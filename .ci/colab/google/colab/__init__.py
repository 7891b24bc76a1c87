"""Stand-in for Colab's ``google.colab`` module, imported by the test kernel at start (as Colab's
kernel does), so that ``"google.colab" in sys.modules`` is true and the lessons' Colab cell runs.
It provides nothing else: the lessons use nothing else from it. ``google`` stays a namespace
package (no ``google/__init__.py``), so ``google.protobuf`` still imports."""

IN_COLAB_STAND_IN = True
