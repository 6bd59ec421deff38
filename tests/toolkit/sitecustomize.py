"""Lets sagemaker-containers 2.8 (written for Python < 3.10) import on Python 3.11.

Python imports this module at start-up when its folder is on PYTHONPATH; the toolkit's
`_mapping.MappingMixin` subclasses `collections.Mapping`, which Python 3.10 removed.
"""
import collections
import collections.abc

collections.Mapping = collections.abc.Mapping
