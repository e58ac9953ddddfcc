"""Video tasks. ``action``: action-recognition fine-tuning (``VideoClassifier``: clips, multi-view
testing); importing it registers the classifier in ``MODELS``."""
