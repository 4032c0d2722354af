"""Core: what every stage needs and no stage owns: errors, atomic files, progress, data folders.

Imports nothing else of reprogrid. The names below are re-exported lazily (``core.lazy``):
``import reprogrid.core.errors`` does not load the atomic-file helpers (hashlib, ctypes,
shutil, tempfile) that a command such as ``validate`` never uses.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".errors": ["Problem", "UserError"],
    ".files": ["atomic_directory", "write_bytes_atomic", "write_text_atomic"],
    ".progress": ["Progress"],
    ".resources": ["sample_data_dir", "singularity_dir", "templates_dir"],
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["Problem", "Progress", "UserError", "atomic_directory", "sample_data_dir", "singularity_dir",
           "templates_dir", "write_bytes_atomic", "write_text_atomic"]
