"""tzrec: config-driven CTR ranking training on torchrec."""

import os

# OpenMP threads that spin while waiting turn a busy core (a DataLoader worker,
# another job) into 5-10x slower steps: fbgemm's CPU embedding backward and the
# MLP matmuls wait on each other's threads. Passive waiting costs little when
# the machine is idle and avoids the collapse when it is not. It must be set
# before torch loads OpenMP, hence here; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
