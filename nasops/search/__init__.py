"""``nasops search``: a one-shot search on a small image set, the retrain of its result, the test.

``run.search(options)`` does the whole job; the modules beside it hold one step each: the
options and their checks, the data, the supernet, the ``--algo`` table, the epoch recorder,
the architecture read as cells, the retrain, and the pictures.
"""
