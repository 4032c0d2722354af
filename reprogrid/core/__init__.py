"""Core: what every stage needs and no stage owns: errors, atomic files, progress, data folders.

Imports nothing else of reprogrid.
"""
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import atomic_directory, write_bytes_atomic, write_text_atomic
from reprogrid.core.progress import Progress
from reprogrid.core.resources import sample_data_dir, singularity_dir, templates_dir

__all__ = ["Problem", "Progress", "UserError", "atomic_directory", "sample_data_dir", "singularity_dir",
           "templates_dir", "write_bytes_atomic", "write_text_atomic"]
