"""jvision + jseg: Jittor-native convolutional-attention vision models, kernels and trainers."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
version = {}
for line in (ROOT / "jvision" / "__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="jvision",
    version=version["__version__"],
    description="Jittor-native VAN / SegNeXt / Conv2Former / MAE / E2FGVI: models, kernels, trainers",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["jvision", "jvision.*", "jseg", "jseg.*"]),
    package_data={"jvision.ops": ["kernels/*.cc", "kernels/*.cu", "kernels/*.h"]},
    python_requires=">=3.8",
    install_requires=[
        "jittor>=1.3.11,<1.3.12",
        "numpy<2",  # Jittor 1.3.11 crashes with numpy 2
        "pillow",
        "opencv-python-headless",
        "tqdm",
    ],
    extras_require={
        "test": ["pytest"],
        "torch": ["torch==2.13.0"],  # cross-framework checks and benchmarks only
        # MIM study plots, and sample photographs for the built-in shard collection
        "mim": ["matplotlib", "scikit-image"],
    },
)
