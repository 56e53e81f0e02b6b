"""A classic-mode trial for the ``nasops tune`` tests that speaks the protocol by hand.

It imports neither torch nor nasops (a run costs ~30 ms). With ``NNI_GEN_SEARCH_SPACE`` set it
writes SPACE there, as ss-gen expects, and exits. Otherwise its metric follows from its
choices, so the best architecture is known: ``conv3x3`` beats ``conv5x5``, and using the skip
input adds 0.5. Env knobs, each a comma list of trial numbers (``NASOPS_TRIAL_SEQUENCE``):
``FAKE_CRASH`` exits 3 after a line on stderr, ``FAKE_SILENT`` exits 0 reporting nothing,
``FAKE_HANG`` sleeps a minute. ``FAKE_LOG`` names a file each run appends its number to;
with ``FAKE_BARRIER=k`` the trials numbered below k wait (up to a minute) until k runs have
logged, so they must run at the same time, in different workers.
"""

import json
import os
import sys
import time

SPACE = {
    "first_conv": {"_type": "layer_choice", "_value": ["conv5x5", "conv3x3"]},
    "skip": {"_type": "input_choice", "_value": {"candidates": ["stem"], "n_chosen": None}},
}
SCORES = {"conv5x5": 1.0, "conv3x3": 2.0}


def _listed(name: str, number: str) -> bool:
    return number in os.environ.get(name, "").split(",")


def _barrier(log: str, runs: int, number: int) -> None:
    deadline = time.monotonic() + 60
    while number < runs and time.monotonic() < deadline:
        with open(log) as file:
            if len(file.read().split()) >= runs:
                return
        time.sleep(0.05)


def main() -> int:
    if os.environ.get("NNI_GEN_SEARCH_SPACE"):
        with open(os.environ["NNI_GEN_SEARCH_SPACE"], "w") as file:
            json.dump(SPACE, file)
        return 0
    number = os.environ["NASOPS_TRIAL_SEQUENCE"]
    if os.environ.get("FAKE_LOG"):
        with open(os.environ["FAKE_LOG"], "a") as file:
            file.write(number + "\n")
        _barrier(os.environ["FAKE_LOG"], int(os.environ.get("FAKE_BARRIER", 0)), int(number))
    with open(os.environ["NASOPS_TRIAL_PARAMETERS"]) as file:
        parameters = json.load(file)
    print(f"trial {number} got {parameters}", file=sys.stderr)
    if _listed("FAKE_CRASH", number):
        print(f"boom in trial {number}", file=sys.stderr)
        return 3
    if _listed("FAKE_HANG", number):
        time.sleep(60)
    if _listed("FAKE_SILENT", number):
        return 0
    metric = SCORES[parameters["first_conv"]["_value"]] + 0.5 * len(parameters["skip"]["_idx"])
    with open(os.environ["NASOPS_TRIAL_RESULTS"], "a") as file:
        file.write(json.dumps({"type": "PERIODICAL", "sequence": 0, "value": metric / 2}) + "\n")
        file.write(json.dumps({"type": "FINAL", "sequence": 0, "value": metric}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
