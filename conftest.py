"""Shared pytest setup: the doctest namespace and a headless matplotlib."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import adkit


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    doctest_namespace["adkit"] = adkit
