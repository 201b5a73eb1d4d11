"""The replay's compiled kernels (``bot/summary/_kernels/*.pyx``), built with Cython.

Everything else about the package is in ``pyproject.toml``. The extensions are optional: on a
machine without a C compiler the install still succeeds and the replay runs its NumPy code
(the same results, slower); ``debate-bot analyze --replay`` says which it used.

No ``-ffast-math`` and no FMA contraction: the kernels repeat NumPy's and SciPy's arithmetic
operation for operation, so that the clusterings they find are the NumPy code's exactly.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math"]

extensions = [
    Extension(
        f"bot.summary._kernels.{name}",
        [f"bot/summary/_kernels/{name}.pyx"],
        extra_compile_args=FLAGS,
        optional=True,
    )
    for name in ("clusters", "lanczos")
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
        },
    )
)
