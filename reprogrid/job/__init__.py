"""The job side: what runs inside the container on the execute node.

Standard library + numpy + TensorFlow/Keras only, Python >= 3.8: the containers are old.
Imports nothing of reprogrid outside ``job/`` (an import-linter contract): it ships to
every job as one zipapp (``reprogrid.render.bundle``). Owns the workload catalogue
(``catalogue``), the result record's schema (``schema``, ``record``), the workloads, the
determinism switches and the environment fingerprint.
"""
