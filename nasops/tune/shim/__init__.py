"""A folder ``nasops tune`` puts first on a trial's PYTHONPATH so ``import nni`` finds nasops."""
