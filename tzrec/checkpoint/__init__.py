"""tzrec.checkpoint: save, restore and prune ``model.ckpt-STEP`` folders.

* :mod:`~tzrec.checkpoint.manager`: ``CheckpointManager`` (atomic save,
  restore, prune, cleanup), ``load_model_weights``, ``saved_model_keys``;
* :mod:`~tzrec.checkpoint.restore`: a full training state (model, optimizer,
  train state, RNG) loaded back into live objects, checked first;
* :mod:`~tzrec.checkpoint.files`: complete checkpoints listed, resolved,
  validated against their ``DONE`` marker, loaded weights-only;
* :mod:`~tzrec.checkpoint.best`: the best checkpoint by the eval log;
* :mod:`~tzrec.checkpoint.artifacts`: ``model_dir/artifacts.json``;
* :mod:`~tzrec.checkpoint.state`: RNG state and plain-data checks.

``_dcp`` (torch.distributed.checkpoint plumbing) is private to this package.
Names, the marker and durable writes are :mod:`tzrec.run_dir`'s.
"""
