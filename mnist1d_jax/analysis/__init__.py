"""Measurements of trained models: ``representations`` (neural collapse NC1-NC4 in named variants, linear CKA).

Above ``core`` and ``meta``, below ``studies``: a study measures its models with these functions.
"""
