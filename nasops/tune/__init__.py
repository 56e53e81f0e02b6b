"""``nasops tune``: classic-mode NAS at scale, each trial a subprocess, the tuner on Optuna.

Modules: ``options`` (the arguments), ``space`` (ss-gen's search space ↔ Optuna parameters),
``runner`` (one trial subprocess), ``study`` (the shared Optuna study: storage, which trials
count, verdicts), ``outputs`` (trials.csv, trials.png, best_arch.json) and ``run`` (the loop).
The trial side is :mod:`nasops.trial`; ``shim/nni`` lets unmodified NNI trials import nni.
"""
