"""``import nni`` in a trial run by ``nasops tune`` when no real nni is installed.

This module replaces itself in ``sys.modules`` by nasops' NNI alias, so NNI classic-mode trial
scripts (``nni.get_next_parameter``, ``nni.report_final_result``, ``nni.nas.pytorch...``) run
unchanged on nasops, without the script or the environment installing anything.
"""

import sys

del sys.modules[__name__]  # install() refuses to alias over an imported nni

from nasops.compat import nni as _compat  # noqa: E402

_compat.install()
