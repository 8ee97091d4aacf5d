"""Packages for setuptools; everything else is in pyproject.toml."""

from setuptools import find_packages, setup

# The registry is generated data kept at the top of the repository (providers/), reviewed as data; it ships
# inside the wheel and sdist as the package data of skyql.providers, where the loader looks first.
setup(
    packages=[*find_packages("src"), "skyql.providers"],
    package_dir={"": "src", "skyql.providers": "providers"},
)
