"""What the per-file checksums cost at checkpoint save and restore.

Saves a sharded torchrec model (two embedding tables with Adagrad state, about
``--rows`` x ``--dim`` floats each) several times and prints, per repeat, the
save time, the hashing part of it (xxh3_64 of every file, as the DONE marker
records them) and a restore with and without verification, interleaved.

    .venv/bin/python scripts/bench_checksums.py [--rows 200000 --dim 64 --repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "checkpoint"))


def main() -> None:
    """Prints the figures."""
    import ckpt_dmp_model as tiny

    from tzrec.checkpoint import files
    from tzrec.checkpoint.manager import CheckpointManager
    from tzrec.run_dir import marker
    from tzrec.utils.dist import init_distributed

    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--repeats", type=int, default=6)
    args = p.parse_args()
    init_distributed()
    dmp, opt = tiny.build(seed=0, rows=args.rows, dim=args.dim)
    tiny.train(dmp, opt, steps=2)
    saves, hashes, verified, unverified = [], [], [], []
    with tempfile.TemporaryDirectory() as model_dir:
        manager = CheckpointManager(model_dir, keep_max=1)
        for step in range(1, args.repeats + 1):
            result = manager.save(step, dmp, opt, {"step": step})
            manager.prune()
            start = time.perf_counter()
            for rel in marker.list_files(result.path):
                marker.file_checksum(os.path.join(result.path, rel))
            hashes.append(time.perf_counter() - start)
            saves.append(result.seconds)
            order = [(verified, True), (unverified, False)]
            for timings, verify in order if step % 2 else order[::-1]:
                files._VERIFIED.clear()
                if not verify:
                    files.validate_checkpoint(result.path)  # cached: not re-hashed
                start = time.perf_counter()
                manager.restore(result.path, dmp, opt)
                timings.append(time.perf_counter() - start)
        nbytes = result.nbytes
    med = statistics.median
    print(f"checkpoint: {nbytes / 2**20:.1f} MiB, {args.repeats} repeats (medians)")
    print(f"save (hashing included): {med(saves):.3f}s")
    print(
        f"hashing at save:         {med(hashes):.3f}s "
        f"({100 * med(hashes) / med(saves):.1f}% of save)"
    )
    print(f"restore, verified:       {med(verified):.3f}s")
    print(
        f"restore, not verified:   {med(unverified):.3f}s "
        f"(verification {100 * (med(verified) / med(unverified) - 1):+.1f}%)"
    )


if __name__ == "__main__":
    main()
