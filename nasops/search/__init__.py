"""``nasops search``: a one-shot search on a small image set, the retrain of its result, the test.

``run.search(options)`` does the whole job; the modules beside it hold one step each (data,
supernet, algorithm table, retrain, plots).
"""
