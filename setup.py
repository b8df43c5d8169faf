"""tzrec: config-driven CTR ranking training on torchrec."""

from setuptools import find_packages, setup

setup(
    name="tzrec",
    version="0.1.0",
    description="Config-driven recommender (CTR ranking) training CLI on torchrec",
    packages=find_packages(include=["tzrec", "tzrec.*"]),
    python_requires=">=3.10",
)
