"""Agreement and aggregate statistics for rating data.

Pure numpy/scipy: nothing here imports Django, so the engine is testable against reference
libraries and usable from a notebook.  Inputs follow the ``krippendorff`` package's orientation:
a (raters x units) float array with NaN for a missing rating.
"""
