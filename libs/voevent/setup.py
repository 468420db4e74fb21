"""Build vohub.voevent's compiled tree readers against the headers of the pinned lxml."""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

READERS = ("_walk", "_what", "_wherewhen")

extensions = [
    Extension(
        f"vohub.voevent.{name}",
        [f"src/vohub/voevent/{name}.pyx"],
        include_dirs=lxml.get_include(),
    )
    for name in READERS
]
setup(ext_modules=cythonize(extensions, build_dir="build", include_path=["src"]))
